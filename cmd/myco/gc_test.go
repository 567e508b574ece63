package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGCKeepsEveryKeptRoot runs gc with and without a daemon on a repo
// whose every block a root holds: it frees nothing and the root stays
// whole. (chunker's TestGCFreesExactlyWhatNoRootUses checks what it frees
// when there is something.)
func TestGCKeepsEveryKeptRoot(t *testing.T) {
	repo := initRepo(t)
	file := filepath.Join(t.TempDir(), "kept.bin")
	data := strings.Repeat("gc keeps me ", 50000)
	if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, repo)
	root := strings.TrimSpace(myco(t, repo, "share", file).stdout)

	r := myco(t, repo, "gc", "--json")
	var res struct {
		Owners int      `json:"owners"`
		Blocks []string `json:"blocks"`
		Bytes  int64    `json:"bytes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); r.code != 0 || err != nil || res.Owners != 0 || len(res.Blocks) != 0 || res.Bytes != 0 {
		t.Fatalf("gc with a daemon: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	d.stop()
	r = myco(t, repo, "gc")
	if r.code != 0 || !strings.Contains(r.stdout, "nothing to free") {
		t.Fatalf("gc without a daemon: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	startDaemon(t, repo)
	if r := myco(t, repo, "cat", root); r.code != 0 || r.stdout != data {
		t.Errorf("cat after gc: exit %d, %d bytes (%s)", r.code, len(r.stdout), r.stderr)
	}
}
