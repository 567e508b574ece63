package main

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShareCatLsRm(t *testing.T) {
	repo := initRepo(t)
	startDaemon(t, repo)
	dir := t.TempDir()
	data := make([]byte, 3<<20+12345)
	rand.Read(data)
	big := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(big, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r := myco(t, repo, "share", big)
	if r.code != 0 {
		t.Fatalf("share: exit %d: %s", r.code, r.stderr)
	}
	root := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(root, "bafybei") || strings.Contains(root, "\n") {
		t.Fatalf("share printed %q; want the dag-pb root CID alone", r.stdout)
	}
	// The same file shared again, by relative path, gives the same root.
	r = myco(t, repo, "share", "--json", big)
	var shared struct {
		CID    string `json:"cid"`
		Size   int64  `json:"size"`
		Blocks int    `json:"blocks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &shared); err != nil {
		t.Fatalf("share --json: %v: %q", err, r.stdout)
	}
	if shared.CID != root || shared.Size != int64(len(data)) || shared.Blocks != 5 {
		t.Errorf("share --json = %+v; want cid %s, size %d, 5 blocks (4 leaves + root)", shared, root, len(data))
	}

	// The empty file is the well-known empty raw block.
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	if r := myco(t, repo, "share", empty); strings.TrimSpace(r.stdout) != "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku" {
		t.Errorf("share of the empty file printed %q (%s)", r.stdout, r.stderr)
	}

	r = myco(t, repo, "cat", root)
	if r.code != 0 || r.stdout != string(data) {
		t.Fatalf("cat: exit %d, %d bytes (want %d): %s", r.code, len(r.stdout), len(data), r.stderr)
	}

	r = myco(t, repo, "ls", "--json")
	var roots []struct {
		CID  string `json:"cid"`
		Size int64  `json:"size"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &roots); err != nil {
		t.Fatalf("ls --json: %v: %q", err, r.stdout)
	}
	if len(roots) != 2 {
		t.Fatalf("ls = %+v; want the big and the empty file", roots)
	}

	if r := myco(t, repo, "rm", root); r.code != 0 {
		t.Fatalf("rm: exit %d: %s", r.code, r.stderr)
	}
	// Not here any more, and no peer has it: cat looks for it, then gives up.
	r = myco(t, repo, "cat", root, "--timeout", "1s")
	if r.code == 0 {
		t.Fatal("cat after rm succeeded")
	}
	assertOneLine(t, r.stderr, "no peer provides")
	// The failed fetch cat started is listed until rm forgets it; then
	// nothing is left to remove.
	r = myco(t, repo, "rm", root)
	if r.code != 0 || !strings.Contains(r.stdout, "forgot") {
		t.Fatalf("rm of the failed fetch: exit %d: %q %q", r.code, r.stdout, r.stderr)
	}
	r = myco(t, repo, "rm", root)
	if r.code == 0 {
		t.Fatal("third rm succeeded")
	}
	assertOneLine(t, r.stderr, "not kept")
	// rm never deletes the user's file.
	if _, err := os.Stat(big); err != nil {
		t.Errorf("rm touched the shared file: %v", err)
	}
}

func TestContentErrorsAreOneLine(t *testing.T) {
	repo := initRepo(t)
	startDaemon(t, repo)
	dir := t.TempDir()
	unreadable := filepath.Join(dir, "secret")
	os.WriteFile(unreadable, []byte("x"), 0o000)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing path", []string{"share", filepath.Join(dir, "nope")}, "no such file"},
		{"bad chunk size", []string{"share", "--chunk-size", "7", unreadable}, ""},
		{"malformed cid cat", []string{"cat", "not_a_cid!"}, "is not a CID"},
		{"unknown name cat", []string{"cat", "not-a-cid"}, "no one owns"},
		{"malformed cid rm", []string{"rm", "bafy???"}, "is not a CID"},
		{"unknown cid", []string{"cat", "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am", "--timeout", "1s"}, "no peer provides"},
		{"unsupported cid", []string{"cat", "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n", "--timeout", "1s"}, "unsupported CID"},
		{"malformed cid findprovs", []string{"dht", "findprovs", "zzz"}, "is not a CID"},
	}
	if os.Geteuid() != 0 {
		// root reads anything, so only others can check this.
		cases = append(cases, struct {
			name string
			args []string
			want string
		}{"unreadable", []string{"share", unreadable}, "permission denied"})
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
	// The daemon is still there.
	getID(t, repo)
}
