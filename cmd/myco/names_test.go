package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPublishResolveVerify shares a file, publishes it under a new name
// (commitment, then claim), and checks the name and the proof of existence
// once mined; then points the name at a second file.
func TestPublishResolveVerify(t *testing.T) {
	repo := initRepo(t)
	startDaemon(t, repo, "--mine")
	dir := t.TempDir()
	share := func(content string) string {
		p := filepath.Join(dir, content)
		os.WriteFile(p, []byte(content), 0o644)
		r := myco(t, repo, "share", p)
		if r.code != 0 {
			t.Fatalf("share: %s", r.stderr)
		}
		return strings.TrimSpace(r.stdout)
	}
	first, second := share("first version"), share("second version")

	h, _ := chainStatus(t, repo)
	r := myco(t, repo, "publish", first, "--name", "my-site")
	if r.code != 0 || len(strings.TrimSpace(r.stdout)) != 64 {
		t.Fatalf("publish: exit %d, stdout %q: %s", r.code, r.stdout, r.stderr)
	}
	claim := strings.TrimSpace(r.stdout)
	after, _ := chainStatus(t, repo)
	waitHeight(t, repo, after+2)

	r = myco(t, repo, "resolve", "my-site")
	if r.code != 0 || strings.TrimSpace(r.stdout) != first {
		t.Fatalf("resolve my-site = %q (%s); want %s", r.stdout, r.stderr, first)
	}
	r = myco(t, repo, "verify", first, "--json")
	var v struct {
		CID           string `json:"cid"`
		Height        uint64 `json:"height"`
		Block         string `json:"block"`
		Time          string `json:"time"`
		Tx            string `json:"tx"`
		Confirmations uint64 `json:"confirmations"`
		Owner         string `json:"owner"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("verify --json: %v: %q %s", err, r.stdout, r.stderr)
	}
	me := strings.TrimSpace(myco(t, repo, "wallet", "address").stdout)
	if v.CID != first || v.Tx != claim || v.Owner != me || v.Height <= h || v.Confirmations < 1 || len(v.Block) != 64 || v.Time == "" {
		t.Errorf("verify = %+v; want the claim %s by %s above height %d", v, claim, me, h)
	}

	// The owner points the name elsewhere: no commitment needed.
	r = myco(t, repo, "publish", second, "--name", "my-site")
	if r.code != 0 {
		t.Fatalf("update: %s", r.stderr)
	}
	now, _ := chainStatus(t, repo)
	waitHeight(t, repo, now+2)
	if r := myco(t, repo, "resolve", "my-site"); strings.TrimSpace(r.stdout) != second {
		t.Errorf("resolve after update = %q; want %s", r.stdout, second)
	}
	// The first proof of existence stands.
	if r := myco(t, repo, "verify", first, "--json"); !strings.Contains(r.stdout, claim) {
		t.Errorf("verify of the first CID changed: %s", r.stdout)
	}
}

func TestNameErrorsAreOneLine(t *testing.T) {
	repo := initRepo(t)
	startDaemon(t, repo)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown name", []string{"resolve", "nobody-owns-this"}, "no one owns"},
		{"bad name", []string{"resolve", "Bad_Name"}, "name"},
		{"short name", []string{"publish", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "--name", "ab"}, "name"},
		{"unpublished cid", []string{"verify", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"}, "never published"},
		{"malformed cid", []string{"verify", "nope"}, "is not a CID"},
		{"publish without funds", []string{"publish", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "--fee", "5"}, "balance"},
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
}
