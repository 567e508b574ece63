package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigShowGetSetWithoutADaemon(t *testing.T) {
	repo := initRepo(t)
	cfgPath := filepath.Join(repo, "config.json")

	r := myco(t, repo, "config", "show")
	file, _ := os.ReadFile(cfgPath)
	if r.code != 0 || r.stdout != string(file) || !strings.Contains(r.stdout, `"api": "127.0.0.1:0"`) {
		t.Fatalf("config show: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if r := myco(t, repo, "config", "get", "api"); r.code != 0 || r.stdout != "127.0.0.1:0\n" {
		t.Errorf("config get api: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}

	r = myco(t, repo, "config", "set", "limits.max_upload", "5M")
	if r.code != 0 || !strings.Contains(r.stdout, "limits.max_upload = 5M") || !strings.Contains(r.stdout, "at its next start") {
		t.Fatalf("config set: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if r := myco(t, repo, "config", "get", "limits.max_upload"); r.stdout != "5M\n" {
		t.Errorf("after set, get says %q", r.stdout)
	}

	// Bad values are refused, say why, and leave the file as it was.
	before, _ := os.ReadFile(cfgPath)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"config", "set", "log_level", "loud"}, "config not changed: log_level \"loud\""},
		{[]string{"config", "set", "listen", "garbage"}, "listen address"},
		{[]string{"config", "set", "limits.conn_low", "9999"}, "conn_low"},
		{[]string{"config", "set", "frobs", "1"}, "no such config key"},
		{[]string{"config", "get", "frobs"}, "no such config key"},
		{[]string{"config", "set", "api"}, "usage: myco config set KEY VALUE"},
	} {
		r := myco(t, repo, c.args...)
		if r.code == 0 {
			t.Errorf("%v: exit 0", c.args)
			continue
		}
		assertOneLine(t, r.stderr, c.want)
	}
	after, _ := os.ReadFile(cfgPath)
	if string(after) != string(before) {
		t.Errorf("a refused set changed config.json:\n%s\nwas\n%s", after, before)
	}
	// The daemon starts with what was set.
	d := startDaemon(t, repo)
	r = myco(t, repo, "swarm", "limits", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, "5000000") {
		t.Errorf("swarm limits after config set 5M: %q %q", r.stdout, r.stderr)
	}
	// With the daemon running, a set says it needs a restart.
	r = myco(t, repo, "config", "set", "log_level", "debug")
	if r.code != 0 || !strings.Contains(r.stdout, "after a restart") || !strings.Contains(r.stdout, "myco log level") {
		t.Errorf("config set with a daemon: %q %q", r.stdout, r.stderr)
	}
	d.stop()
}

func TestConfigEditValidatesBeforeSaving(t *testing.T) {
	repo := initRepo(t)
	cfgPath := filepath.Join(repo, "config.json")
	dir := t.TempDir()

	good := filepath.Join(dir, "good-editor")
	writeFile(t, good, "#!/bin/sh\nsed -i 's/\"log_level\": \"info\"/\"log_level\": \"warn\"/' \"$1\"\n")
	bad := filepath.Join(dir, "bad-editor")
	writeFile(t, bad, "#!/bin/sh\nsed -i 's/\"log_level\": \"info\"/\"log_level\": \"shouting\"/' \"$1\"\n")
	for _, f := range []string{good, bad} {
		if err := os.Chmod(f, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	before, _ := os.ReadFile(cfgPath)
	t.Setenv("VISUAL", "")
	t.Setenv("EDITOR", bad)
	r := myco(t, repo, "config", "edit")
	if r.code == 0 {
		t.Fatal("an invalid edit was saved")
	}
	assertOneLine(t, r.stderr, "config.json unchanged: the edit does not pass the start-up checks")
	if after, _ := os.ReadFile(cfgPath); string(after) != string(before) {
		t.Errorf("an invalid edit changed config.json")
	}
	// The edit is kept where the message says.
	i := strings.LastIndex(r.stderr, "it is kept in ")
	kept := strings.TrimSpace(r.stderr[i+len("it is kept in "):])
	if b, err := os.ReadFile(kept); err != nil || !strings.Contains(string(b), "shouting") {
		t.Errorf("the invalid edit is not kept at %q: %v", kept, err)
	}

	t.Setenv("EDITOR", good)
	r = myco(t, repo, "config", "edit")
	if r.code != 0 || !strings.Contains(r.stdout, "config.json saved") {
		t.Fatalf("config edit: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if r := myco(t, repo, "config", "get", "log_level"); r.stdout != "warn\n" {
		t.Errorf("after edit, log_level = %q", r.stdout)
	}
}
