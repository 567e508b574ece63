package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// initJSON inits a dev repo and returns what init printed.
func initJSON(t *testing.T) (string, map[string]string) {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "repo")
	r := myco(t, repo, "init", "--network", "dev", "--json")
	if r.code != 0 {
		t.Fatalf("init: %s", r.stderr)
	}
	var out map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	return repo, out
}

func TestIdentityCommandsWorkWithoutADaemon(t *testing.T) {
	repo, ini := initJSON(t)

	r := myco(t, repo, "id", "--json")
	if r.code != 0 {
		t.Fatalf("id without a daemon: exit %d: %s", r.code, r.stderr)
	}
	var id struct {
		idJSON
		Online bool `json:"online"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &id); err != nil {
		t.Fatal(err)
	}
	if id.ID != ini["id"] || id.Address != ini["address"] || id.Network != "dev" || id.Online {
		t.Errorf("id offline = %+v; init said %v", id, ini)
	}
	r = myco(t, repo, "id")
	if r.code != 0 || !strings.Contains(r.stdout, "peer id: "+ini["id"]) || !strings.Contains(r.stdout, "daemon: not running") {
		t.Errorf("id offline: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}

	r = myco(t, repo, "wallet", "address")
	if r.code != 0 || strings.TrimSpace(r.stdout) != ini["address"] {
		t.Errorf("wallet address offline: exit %d, %q, want %s (%s)", r.code, r.stdout, ini["address"], r.stderr)
	}
	r = myco(t, repo, "version", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"network": "dev"`) {
		t.Errorf("version offline: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}

	// With a daemon, id says what only the daemon knows.
	startDaemon(t, repo)
	r = myco(t, repo, "id", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &id); err != nil {
		t.Fatal(err)
	}
	if !id.Online || len(id.Addrs) == 0 || id.ID != ini["id"] {
		t.Errorf("id online = %+v", id)
	}
}

func TestLsWorksWithoutADaemon(t *testing.T) {
	repo := initRepo(t)
	r := myco(t, repo, "ls")
	if r.code != 0 || !strings.Contains(r.stdout, "no roots yet") {
		t.Fatalf("ls on an empty repo without a daemon: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}

	file := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(file, []byte(strings.Repeat("offline ", 1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, repo)
	r = myco(t, repo, "share", file)
	if r.code != 0 {
		t.Fatalf("share: %s", r.stderr)
	}
	root := strings.TrimSpace(r.stdout)
	online := lsJSON(t, repo)
	if err := d.stop(); err != nil {
		t.Fatalf("daemon stop: %v", err)
	}

	offline := lsJSON(t, repo)
	if len(offline) != 1 || offline[root] != online[root] {
		t.Errorf("ls offline = %v; with the daemon it was %v", offline, online)
	}
	if e := offline[root]; e.Name != "notes.txt" || e.State != "seeding" || e.Size != 8000 {
		t.Errorf("ls offline entry = %+v", e)
	}
	r = myco(t, repo, "ls")
	if r.code != 0 || !strings.Contains(r.stdout, root) || !strings.Contains(r.stdout, "notes.txt") {
		t.Errorf("ls offline: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	// The store was closed again: a daemon starts on the repo.
	startDaemon(t, repo)
}
