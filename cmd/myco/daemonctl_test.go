package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestShutdownStopsTheDaemon(t *testing.T) {
	repo := initRepo(t)
	d := startDaemon(t, repo)
	r := myco(t, repo, "shutdown")
	if r.code != 0 || r.stdout != "daemon stopped\n" {
		t.Fatalf("shutdown: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	// It said stopped: the api file is gone and the process has ended, cleanly.
	if _, err := os.Stat(filepath.Join(repo, "api")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("api file after shutdown: %v", err)
	}
	select {
	case err := <-d.exit:
		d.exit <- err
		if err != nil {
			t.Errorf("daemon exit after shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("daemon still running 10 s after shutdown said it stopped")
	}
	r = myco(t, repo, "shutdown")
	if r.code == 0 {
		t.Fatal("shutdown with no daemon succeeded")
	}
	assertOneLine(t, r.stderr, "no daemon is running")
}

func TestLogFileLevelAndTail(t *testing.T) {
	repo := initRepo(t)
	if r := myco(t, repo, "log", "tail"); r.code == 0 {
		t.Error("log tail with no log file succeeded")
	} else {
		assertOneLine(t, r.stderr, "no log file is set")
	}
	startDaemon(t, repo, "--log-file", "logs/daemon.log")
	logPath := filepath.Join(repo, "logs", "daemon.log")
	content := func() string {
		b, _ := os.ReadFile(logPath)
		return string(b)
	}
	waitForLog := func(want string) {
		t.Helper()
		// The daemon prints its ready line on stdout before it logs it.
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(content(), want); <-tick.C {
			if time.Now().After(deadline) {
				t.Fatalf("the log file never showed %q: %q", want, content())
			}
		}
	}
	waitForLog(`msg="daemon ready"`)
	// The daemon may log meanwhile: the two lines printed are two
	// consecutive lines of the file.
	r := myco(t, repo, "log", "tail", "-n", "2")
	got := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if r.code != 0 || len(got) != 2 || !strings.Contains(content(), got[0]+"\n"+got[1]+"\n") {
		t.Errorf("log tail -n 2: exit %d, %q; the file is %q (%s)", r.code, r.stdout, content(), r.stderr)
	}

	cfgBefore, _ := os.ReadFile(filepath.Join(repo, "config.json"))
	if r := myco(t, repo, "log", "level"); r.stdout != "info\n" {
		t.Errorf("log level: %q %q", r.stdout, r.stderr)
	}
	// At error level the daemon's own info line about the change is not
	// written; back at info it is.
	if r := myco(t, repo, "log", "level", "error"); r.code != 0 || !strings.Contains(r.stdout, "log level is now error") {
		t.Fatalf("log level error: %q %q", r.stdout, r.stderr)
	}
	if strings.Contains(content(), "log level changed") {
		t.Errorf("an info line was logged at level error: %q", content())
	}
	if r := myco(t, repo, "log", "level", "info"); r.code != 0 {
		t.Fatalf("log level info: %q", r.stderr)
	}
	// The daemon logs the change before it answers.
	if !strings.Contains(content(), `msg="log level changed" subsystem=api level=info`) {
		t.Errorf("back at info, the change is not logged: %q", content())
	}
	if cfgAfter, _ := os.ReadFile(filepath.Join(repo, "config.json")); string(cfgAfter) != string(cfgBefore) {
		t.Error("log level changed config.json")
	}
	r = myco(t, repo, "log", "level", "loud")
	if r.code == 0 {
		t.Fatal("log level loud succeeded")
	}
	assertOneLine(t, r.stderr, "log level")
}

func TestLogTailFollowsAcrossRotation(t *testing.T) {
	repo := initRepo(t)
	if r := myco(t, repo, "config", "set", "log_file", "myco.log"); r.code != 0 {
		t.Fatalf("config set log_file: %s", r.stderr)
	}
	path := filepath.Join(repo, "myco.log")
	writeFile(t, path, "one\ntwo\nthree\n")
	p := startMyco(t, repo, "", "log", "tail", "-n", "2", "--follow")
	until := func(want string) {
		t.Helper()
		if !p.stdout.waitFor(func(s string) bool { return s == want }, p.done, 20*time.Second) {
			t.Fatalf("log tail --follow printed %q; want %q (stderr %q)", p.stdout, want, p.stderr)
		}
	}
	until("two\nthree\n")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("four\n")
	f.Close()
	until("two\nthree\nfour\n")
	// Rotated as the daemon's log is: renamed, and a new file started.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, "five\n")
	until("two\nthree\nfour\nfive\n")
}
