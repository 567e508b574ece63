package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests drive the fetch lifecycle through the CLI as far as it can be
// seen without a provider: a fetch of a root no one has stays "finding
// peers" until it is cancelled, removed, interrupted, times out or the
// daemon stops. The scenarios that need data flowing are in
// fetch_lifecycle_test.go.

// nobodyHasIt is a valid CID no test daemon provides.
const nobodyHasIt = "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am"

// startStuckFetch starts `fetch nobodyHasIt` in the background and waits
// until the daemon reported its first progress event (the fetch exists).
func startStuckFetch(t *testing.T, repo, dir string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"fetch", nobodyHasIt, "--progress", "--timeout", "2m"}, extra...)
	p := startMyco(t, repo, dir, args...)
	if !p.stderr.waitFor(func(s string) bool { return strings.Contains(s, "fetch [") }, p.done, 30*time.Second) {
		t.Fatalf("fetch never reported progress: exit %d, stderr %q", p.code, p.stderr)
	}
	return p
}

// lastLine is the last line of a CLI's stderr (the progress bar draws
// before it, on lines ended by \r).
func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexAny(s, "\r\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}

func TestCancelAFetch(t *testing.T) {
	repo := initRepo(t)
	d := startDaemon(t, repo)
	dir := t.TempDir()
	p := startStuckFetch(t, repo, dir, "-o", filepath.Join(dir, "out"))

	if e, ok := lsJSON(t, repo)[nobodyHasIt]; !ok || !active(e.State) {
		t.Errorf("ls during the fetch: %+v (listed %v); want it with a fetch state", e, ok)
	}
	if st, ok := stat(t, repo, nobodyHasIt); !ok || !active(st.State) || st.Kept {
		t.Errorf("stat during the fetch: %+v", st)
	}
	r := myco(t, repo, "cancel", nobodyHasIt)
	if r.code != 0 || !strings.Contains(r.stdout, "cancelled the fetch") {
		t.Fatalf("cancel: exit %d: %q %q", r.code, r.stdout, r.stderr)
	}
	fr := p.wait(t, 10*time.Second)
	if fr.code == 0 || !strings.Contains(lastLine(fr.stderr), "cancelled") {
		t.Errorf("the cancelled fetch: exit %d, stderr %q; want a non-zero exit saying it was cancelled", fr.code, lastLine(fr.stderr))
	}
	r = myco(t, repo, "cancel", nobodyHasIt)
	if r.code == 0 {
		t.Fatal("second cancel succeeded")
	}
	assertOneLine(t, r.stderr, "not being fetched")
	r = myco(t, repo, "cancel", "bafy?!")
	if r.code == 0 {
		t.Fatal("cancel of a malformed CID succeeded")
	}
	assertOneLine(t, r.stderr, "is not a CID")
	if n := countLines(d.log.String(), nobodyHasIt); n > 5 {
		t.Errorf("the daemon logged %d lines about the root:\n%s", n, d.log)
	}
}

func TestRmCancelsAFetch(t *testing.T) {
	repo := initRepo(t)
	startDaemon(t, repo)
	dir := t.TempDir()
	p := startStuckFetch(t, repo, dir, "-o", filepath.Join(dir, "out"))
	r := myco(t, repo, "rm", nobodyHasIt)
	if r.code != 0 || !strings.Contains(r.stdout, "cancelled the fetch") {
		t.Fatalf("rm while fetching: exit %d: %q %q", r.code, r.stdout, r.stderr)
	}
	if fr := p.wait(t, 10*time.Second); fr.code == 0 {
		t.Errorf("the fetch removed under it exited 0")
	}
	if r := myco(t, repo, "cancel", nobodyHasIt); r.code == 0 {
		t.Errorf("the fetch is still there after rm: %q", r.stdout)
	}
}

func TestCtrlCCancelsTheFetch(t *testing.T) {
	repo := initRepo(t)
	startDaemon(t, repo)
	dir := t.TempDir()
	p := startStuckFetch(t, repo, dir, "-o", filepath.Join(dir, "out"))
	p.cmd.Process.Signal(syscall.SIGINT)
	fr := p.wait(t, 10*time.Second)
	if fr.code == 0 || !strings.Contains(lastLine(fr.stderr), "interrupted; the fetch was cancelled") {
		t.Errorf("Ctrl-C: exit %d, stderr %q", fr.code, lastLine(fr.stderr))
	}
	// The daemon does not go on with a fetch whose CLI went away.
	r := myco(t, repo, "cancel", nobodyHasIt)
	if r.code == 0 {
		t.Fatalf("the fetch outlived its CLI: %q", r.stdout)
	}
	assertOneLine(t, r.stderr, "not being fetched")
}

func TestTimeoutBoundsTheWholeFetch(t *testing.T) {
	repo := initRepo(t)
	startDaemon(t, repo)
	dir := t.TempDir()
	start := time.Now()
	r := mycoIn(t, repo, dir, "fetch", nobodyHasIt, "--timeout", "2s")
	took := time.Since(start)
	if r.code == 0 {
		t.Fatal("fetch of a root no one has succeeded")
	}
	assertOneLine(t, r.stderr, "no peer provides")
	if took > 10*time.Second {
		t.Errorf("fetch --timeout 2s took %v", took)
	}
	if r := myco(t, repo, "cancel", nobodyHasIt); r.code == 0 {
		t.Errorf("the timed-out fetch is still running: %q", r.stdout)
	}
}

// A daemon stopped during a fetch exits 0 within 5 s; the CLI says the
// fetch will resume and exits 3 (not "unexpected EOF").
func TestDaemonStoppedDuringFetch(t *testing.T) {
	repo := initRepo(t)
	d := startDaemon(t, repo)
	dir := t.TempDir()
	p := startStuckFetch(t, repo, dir, "-o", filepath.Join(dir, "out"))
	start := time.Now()
	if err := d.stop(); err != nil {
		t.Errorf("daemon stopped during a fetch: %v; want exit 0\n%s", err, d.log)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("daemon took %v to stop during a fetch; want at most 5 s", took)
	}
	fr := p.wait(t, 10*time.Second)
	if fr.code != exitPaused || !strings.Contains(lastLine(fr.stderr), "daemon stopped; the fetch will resume when it starts again") {
		t.Errorf("fetch when its daemon stopped: exit %d, stderr %q", fr.code, lastLine(fr.stderr))
	}
	if strings.Contains(fr.stderr, "EOF") {
		t.Errorf("stderr mentions EOF: %q", fr.stderr)
	}
}

func TestLsStatAndCatOfADirectory(t *testing.T) {
	repo := initRepo(t)
	startDaemon(t, repo)
	dir := filepath.Join(t.TempDir(), "album")
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("hello"), 0o644)
	os.WriteFile(filepath.Join(dir, "sub", "b.txt"), []byte("world!"), 0o644)
	r := myco(t, repo, "share", dir)
	if r.code != 0 {
		t.Fatalf("share: %s", r.stderr)
	}
	root := strings.TrimSpace(r.stdout)
	if e := lsJSON(t, repo)[root]; e.State != "seeding" || !e.Dir {
		t.Errorf("ls of a shared directory: %+v; want a dir, seeding", e)
	}
	r = myco(t, repo, "ls", root, "--json")
	var entries []struct {
		Name string `json:"name"`
		CID  string `json:"cid"`
		Size uint64 `json:"size"`
		Dir  bool   `json:"dir"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil {
		t.Fatalf("ls CID --json: %v: %q %s", err, r.stdout, r.stderr)
	}
	if len(entries) != 2 || entries[0].Name != "a.txt" || entries[0].Size != 5 || entries[0].Dir ||
		entries[1].Name != "sub" || !entries[1].Dir {
		t.Errorf("ls CID = %+v; want a.txt (5 bytes) and sub/", entries)
	}
	if r := myco(t, repo, "ls", root); !strings.Contains(r.stdout, "a.txt") || !strings.Contains(r.stdout, "sub/") {
		t.Errorf("ls CID: %q", r.stdout)
	}
	r = myco(t, repo, "cat", root)
	if r.code == 0 {
		t.Fatal("cat of a directory succeeded")
	}
	assertOneLine(t, r.stderr, "myco ls "+root)
	if st, ok := stat(t, repo, root); !ok || st.State != "seeding" || !st.Kept {
		t.Errorf("stat of a shared directory: %+v", st)
	}
	// --watch of a root that is not being fetched prints it once and ends.
	r = myco(t, repo, "stat", "--watch", root)
	if r.code != 0 || countLines(r.stdout, root) != 1 {
		t.Errorf("stat --watch of a kept root: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	if r := myco(t, repo, "ls"); !strings.Contains(r.stdout, "STATE") || !strings.Contains(r.stdout, "seeding") {
		t.Errorf("ls: %q", r.stdout)
	}
	r = myco(t, repo, "share", "")
	if r.code != exitUsage {
		t.Errorf("share '': exit %d; want %d", r.code, exitUsage)
	}
	assertOneLine(t, r.stderr, "empty")
}

func TestSwarmStatsAndLimits(t *testing.T) {
	repo := initRepo(t)
	d := startDaemon(t, repo)
	if r := myco(t, repo, "swarm", "stats"); strings.TrimSpace(r.stdout) != "no peers exchanged with yet" {
		t.Errorf("swarm stats with no peers: %q", r.stdout)
	}
	r := myco(t, repo, "swarm", "limits", "--max-upload", "5M")
	if r.code != 0 || !strings.Contains(r.stdout, "for this run only") {
		t.Errorf("limits without --save: %q %s", r.stdout, r.stderr)
	}
	r = myco(t, repo, "swarm", "limits", "--max-download", "7M", "--save")
	if r.code != 0 || !strings.Contains(r.stdout, "saved to "+filepath.Join(repo, "config.json")) {
		t.Errorf("limits --save: %q %s", r.stdout, r.stderr)
	}
	d.stop()
	startDaemon(t, repo)
	r = myco(t, repo, "swarm", "limits", "--json")
	var l struct {
		Up   int64 `json:"max_upload"`
		Down int64 `json:"max_download"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &l); err != nil || l.Up != 5_000_000 || l.Down != 7_000_000 {
		t.Errorf("limits after a restart: %+v (%v); want the saved 5M up and 7M down", l, err)
	}
	if r := myco(t, repo, "swarm", "limits"); strings.Contains(r.stdout, "this run only") || strings.Contains(r.stdout, "saved") {
		t.Errorf("reading the limits claims a change: %q", r.stdout)
	}
}

func TestPeersRememberedAcrossRestart(t *testing.T) {
	a, b := initRepo(t), initRepo(t)
	startDaemon(t, a)
	db := startDaemon(t, b)
	ida := getID(t, a)
	if r := myco(t, b, "connect", ida.Addrs[0]); r.code != 0 {
		t.Fatalf("connect: %s", r.stderr)
	}
	if err := db.stop(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(b, "peers.json"))
	if err != nil || !strings.Contains(string(data), ida.ID) {
		t.Fatalf("peers.json after stop: %v %s", err, data)
	}
	db = startDaemon(t, b) // no bootstrap, no connect
	if !db.log.waitFor(func(s string) bool { return strings.Contains(s, "redialled remembered peers") }, nil, 30*time.Second) {
		t.Fatalf("no redial logged:\n%s", db.log)
	}
	if got := peerIDs(t, b); len(got) != 1 || got[0] != ida.ID {
		t.Errorf("peers after restart: %v; want [%s]", got, ida.ID)
	}
}
