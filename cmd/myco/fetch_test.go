package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFetchBetweenDaemons shares a file on one daemon and fetches it on
// another over loopback, by CID, with the --json summary; the fetcher then
// serves it to a third.
func TestFetchBetweenDaemons(t *testing.T) {
	seeder, leecher, third := initRepo(t), initRepo(t), initRepo(t)
	startDaemon(t, seeder)
	startDaemon(t, leecher)
	startDaemon(t, third)
	seed := getID(t, seeder)
	for _, r := range []string{leecher, third} {
		if res := myco(t, r, "connect", seed.Addrs[0]); res.code != 0 {
			t.Fatalf("connect: %s", res.stderr)
		}
	}
	dir := t.TempDir()
	data := make([]byte, 5<<20+777)
	rand.Read(data)
	src := filepath.Join(dir, "src.bin")
	os.WriteFile(src, data, 0o644)
	root := strings.TrimSpace(myco(t, seeder, "share", src).stdout)

	out := filepath.Join(dir, "got.bin")
	r := myco(t, leecher, "fetch", root, "-o", out, "--json")
	if r.code != 0 {
		t.Fatalf("fetch: exit %d: %s", r.code, r.stderr)
	}
	var res struct {
		CID     string  `json:"cid"`
		Bytes   int64   `json:"bytes"`
		Seconds float64 `json:"seconds"`
		Peers   int     `json:"peers"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("fetch --json: %v: %q", err, r.stdout)
	}
	if res.CID != root || res.Bytes != int64(len(data)) || res.Peers < 1 || res.Seconds <= 0 {
		t.Errorf("fetch --json = %+v", res)
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("fetched file differs from the shared one (%v)", err)
	}
	// The leecher keeps the root and lists it; the seeder's accounting saw it.
	if r := myco(t, leecher, "ls", "--json"); !strings.Contains(r.stdout, root) {
		t.Errorf("leecher's ls lacks %s: %s", root, r.stdout)
	}
	if r := myco(t, leecher, "stat", root, "--json"); !strings.Contains(r.stdout, `"kept": true`) {
		t.Errorf("stat: %s %s", r.stdout, r.stderr)
	}
	// cat on the third node fetches too.
	r = myco(t, third, "cat", root)
	if r.code != 0 || r.stdout != string(data) {
		t.Fatalf("cat via the swarm: exit %d, %d bytes: %s", r.code, len(r.stdout), r.stderr)
	}
	if r := myco(t, leecher, "swarm", "limits", "--max-upload", "20M", "--json"); !strings.Contains(r.stdout, "20000000") {
		t.Errorf("swarm limits: %s %s", r.stdout, r.stderr)
	}
	if r := myco(t, seeder, "swarm", "stats", "--json"); r.code != 0 || !strings.HasPrefix(strings.TrimSpace(r.stdout), "[") {
		t.Errorf("swarm stats: %q %s", r.stdout, r.stderr)
	}
}

func TestFetchErrorsAreOneLine(t *testing.T) {
	repo := initRepo(t)
	startDaemon(t, repo)
	dir := t.TempDir()
	exists := filepath.Join(dir, "exists")
	os.WriteFile(exists, nil, 0o644)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"nobody provides it", []string{"fetch", "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am", "-o", filepath.Join(dir, "x"), "--timeout", "1s"}, "no peer provides"},
		{"destination exists", []string{"fetch", "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am", "-o", exists}, "already exists"},
		{"malformed cid", []string{"fetch", "bafy?!", "-o", filepath.Join(dir, "y")}, "is not a CID"},
		{"unknown name", []string{"fetch", "no-such-name", "-o", filepath.Join(dir, "z")}, "no one owns"},
		{"bad rate", []string{"swarm", "limits", "--max-upload", "fast"}, "rate"},
		{"bad daemon rate", []string{"daemon", "--max-download", "lots", "--api", "127.0.0.1:0"}, "rate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := myco(t, repo, c.args...)
			if r.code == 0 {
				t.Fatalf("exit 0; want an error (stdout %q)", r.stdout)
			}
			assertOneLine(t, r.stderr, c.want)
		})
	}
	getID(t, repo)
}
