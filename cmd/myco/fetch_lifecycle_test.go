package main

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The fetch lifecycle as a user sees it, between real daemons. These need
// the swarm's and the chunker's lifecycle (partial files, cancel, names,
// broken roots), so they build only with -tags lifecycle.
//
// Every scenario checks the same promises: the destination holds the
// verified file or nothing at all (no partial file left behind either,
// unless asked for), fetch exits 0 only when it holds the file, fetching
// again afterwards succeeds byte for byte, and neither daemon logs more
// than a few lines about the root.

const (
	// lifecycleSize and seederRate keep a fetch "in progress" for about
	// six seconds: long enough to interrupt it at a known point.
	lifecycleSize = 24 << 20
	seederRate    = "4M"
	// maxLogLines is what a daemon may log about one root in a scenario.
	maxLogLines = 12
)

// swarmPair is a seeder sharing a file and a leecher connected to it.
type swarmPair struct {
	seeder, leecher string
	ds, dl          *daemon
	dir             string // holds the shared file
	src             string
	data            []byte
	root            string
}

func newSwarmPair(t *testing.T) *swarmPair {
	t.Helper()
	p := newSwarmPairApart(t)
	p.connect(t)
	return p
}

// newSwarmPairApart is newSwarmPair with the daemons not connected: on
// the dev network they meet only through connect.
func newSwarmPairApart(t *testing.T) *swarmPair {
	t.Helper()
	p := &swarmPair{seeder: initRepo(t), leecher: initRepo(t), dir: t.TempDir()}
	p.ds = startDaemon(t, p.seeder, "--max-upload", seederRate)
	p.dl = startDaemon(t, p.leecher)
	p.data = make([]byte, lifecycleSize+4321)
	rand.Read(p.data)
	p.src = filepath.Join(p.dir, "big.bin")
	if err := os.WriteFile(p.src, p.data, 0o644); err != nil {
		t.Fatal(err)
	}
	r := myco(t, p.seeder, "share", p.src)
	if r.code != 0 {
		t.Fatalf("share: %s", r.stderr)
	}
	p.root = strings.TrimSpace(r.stdout)
	return p
}

func (p *swarmPair) connect(t *testing.T) {
	t.Helper()
	if r := myco(t, p.leecher, "connect", getID(t, p.seeder).Addrs[0]); r.code != 0 {
		t.Fatalf("connect: %s", r.stderr)
	}
}

// checkLogs fails the test if either daemon logged more than a few lines
// about the root.
func (p *swarmPair) checkLogs(t *testing.T) {
	t.Helper()
	for name, d := range map[string]*daemon{"seeder": p.ds, "leecher": p.dl} {
		if n := countLines(d.log.String(), p.root); n > maxLogLines {
			t.Errorf("the %s logged %d lines about %s; want at most %d:\n%s", name, n, p.root, maxLogLines, d.log)
		}
	}
}

var percentRE = regexp.MustCompile(`\]\s*(\d+)%`)

// startFetch starts a fetch with a progress bar and waits until it shows
// at least pct percent on disk.
func startFetch(t *testing.T, repo, dir string, pct int, args ...string) *proc {
	t.Helper()
	f := startMyco(t, repo, dir, append([]string{"fetch", "--progress"}, args...)...)
	ok := f.stderr.waitFor(func(s string) bool {
		m := percentRE.FindAllStringSubmatch(s, -1)
		if len(m) == 0 {
			return false
		}
		got, _ := strconv.Atoi(m[len(m)-1][1])
		return got >= pct
	}, f.done, time.Minute)
	if !ok {
		t.Fatalf("fetch %v never reached %d%%: exit %d, stderr %q", args, pct, f.code, f.stderr)
	}
	return f
}

// assertNothingAt checks that neither dest nor its partial file exists.
func assertNothingAt(t *testing.T, dest string) {
	t.Helper()
	if _, err := os.Lstat(dest); err == nil {
		t.Errorf("%s exists after a fetch that did not finish", dest)
	}
	part := filepath.Join(filepath.Dir(dest), "."+filepath.Base(dest)+".myco-part")
	if _, err := os.Lstat(part); err == nil {
		t.Errorf("partial file %s left behind", part)
	}
}

// assertFile checks that path holds exactly data.
func assertFile(t *testing.T, path string, data []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("%s differs from the shared file (%d bytes, want %d)", path, len(got), len(data))
	}
}

// fetchAgain fetches the root into dir/again.bin and checks it succeeds,
// byte for byte, and prints the path it wrote.
func (p *swarmPair) fetchAgain(t *testing.T) {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "again.bin")
	r := myco(t, p.leecher, "fetch", p.root, "-o", dest)
	if r.code != 0 {
		t.Fatalf("fetch again: exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, dest) {
		t.Errorf("fetch again printed %q; want the path %s", r.stdout, dest)
	}
	assertFile(t, dest, p.data)
}

func TestLifecycleCancel(t *testing.T) {
	p := newSwarmPair(t)
	dest := filepath.Join(t.TempDir(), "out.bin")
	f := startFetch(t, p.leecher, "", 5, p.root, "-o", dest)
	if e := lsJSON(t, p.leecher)[p.root]; e.State != "downloading" || e.Percent <= 0 {
		t.Errorf("ls during the fetch: %+v; want downloading with a percentage", e)
	}
	st := watchUntil(t, p.leecher, p.root, time.Minute, func(st statJSON) bool { return st.State == "downloading" })
	if st.Dest != dest || st.Leaves == 0 {
		t.Errorf("stat during the fetch: %+v", st)
	}
	if r := myco(t, p.leecher, "cancel", p.root); r.code != 0 {
		t.Fatalf("cancel: %s", r.stderr)
	}
	if r := f.wait(t, 10*time.Second); r.code == 0 || !strings.Contains(lastLine(r.stderr), "cancelled") {
		t.Errorf("cancelled fetch: exit %d %q", r.code, lastLine(r.stderr))
	}
	assertNothingAt(t, dest)
	if e, ok := lsJSON(t, p.leecher)[p.root]; ok && e.State != "cancelled" {
		t.Errorf("ls after cancel: %+v; want it gone or cancelled", e)
	}
	p.fetchAgain(t)

	// --keep-partial keeps the partial file; fetching to the same place
	// then reuses it.
	p2 := newSwarmPair(t)
	dest = filepath.Join(t.TempDir(), "kept.bin")
	f = startFetch(t, p2.leecher, "", 10, p2.root, "-o", dest)
	if r := myco(t, p2.leecher, "cancel", p2.root, "--keep-partial"); r.code != 0 || !strings.Contains(r.stdout, "kept") {
		t.Fatalf("cancel --keep-partial: %q %s", r.stdout, r.stderr)
	}
	f.wait(t, 10*time.Second)
	if _, err := os.Stat(filepath.Join(filepath.Dir(dest), ".kept.bin.myco-part")); err != nil {
		t.Errorf("cancel --keep-partial removed the partial file: %v", err)
	}
	if _, err := os.Stat(dest); err == nil {
		t.Errorf("a cancelled fetch left %s", dest)
	}
	if r := myco(t, p2.leecher, "fetch", p2.root, "-o", dest); r.code != 0 {
		t.Fatalf("fetch after cancel --keep-partial: %s", r.stderr)
	}
	assertFile(t, dest, p2.data)
	p.checkLogs(t)
	p2.checkLogs(t)
}

func TestLifecycleRmWhileFetching(t *testing.T) {
	p := newSwarmPair(t)
	dest := filepath.Join(t.TempDir(), "out.bin")
	f := startFetch(t, p.leecher, "", 5, p.root, "-o", dest)
	r := myco(t, p.leecher, "rm", p.root)
	if r.code != 0 || !strings.Contains(r.stdout, "cancelled the fetch") {
		t.Fatalf("rm while fetching: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	if r := f.wait(t, 10*time.Second); r.code == 0 {
		t.Error("fetch removed under it exited 0")
	}
	assertNothingAt(t, dest)
	// Nothing comes back at the next start.
	p.dl.stop()
	p.dl = startDaemon(t, p.leecher)
	if e, ok := lsJSON(t, p.leecher)[p.root]; ok {
		t.Errorf("after rm and a restart, ls lists %+v", e)
	}
	p.connect(t)
	p.fetchAgain(t)
	p.checkLogs(t)
}

func TestLifecycleCtrlC(t *testing.T) {
	p := newSwarmPair(t)
	dest := filepath.Join(t.TempDir(), "big.bin")
	f := startFetch(t, p.leecher, "", 5, p.root, "-o", dest)
	f.cmd.Process.Signal(syscall.SIGINT)
	r := f.wait(t, 10*time.Second)
	if r.code == 0 || !strings.Contains(lastLine(r.stderr), "interrupted") {
		t.Errorf("Ctrl-C: exit %d %q", r.code, lastLine(r.stderr))
	}
	assertNothingAt(t, dest)
	if st, ok := stat(t, p.leecher, p.root); ok && active(st.State) {
		t.Errorf("the daemon goes on with a fetch whose CLI went away: %+v", st)
	}
	// The same destination is free again.
	if r := myco(t, p.leecher, "fetch", p.root, "-o", dest); r.code != 0 {
		t.Fatalf("fetch after Ctrl-C: %s", r.stderr)
	}
	assertFile(t, dest, p.data)
	p.checkLogs(t)
}

func TestLifecycleNoProvider(t *testing.T) {
	repo := initRepo(t)
	d := startDaemon(t, repo)
	dir := t.TempDir()
	for i := 0; i < 2; i++ { // the second time is not "already fetching"
		r := mycoIn(t, repo, dir, "fetch", nobodyHasIt, "--timeout", "3s")
		if r.code == 0 {
			t.Fatal("fetch of a root no one has succeeded")
		}
		assertOneLine(t, r.stderr, "no peer provides")
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("a failed fetch left %v in the current directory", entries)
		}
	}
	r := myco(t, repo, "cat", nobodyHasIt, "--timeout", "2s")
	assertOneLine(t, r.stderr, "no peer provides")
	if e, ok := lsJSON(t, repo)[nobodyHasIt]; ok && e.State != "failed" {
		t.Errorf("ls after the failed fetch: %+v", e)
	}
	if r := myco(t, repo, "rm", nobodyHasIt); r.code != 0 && !strings.Contains(r.stderr, "not kept") {
		t.Errorf("rm of a failed fetch: %s", r.stderr)
	}
	d.stop()
	startDaemon(t, repo)
	if e, ok := lsJSON(t, repo)[nobodyHasIt]; ok {
		t.Errorf("after a restart, ls lists the failed fetch: %+v", e)
	}
}

// A root nobody reachable provides fails twice the same way, leaving
// nothing behind; once its sharer is reachable, a fetch again succeeds.
func TestLifecycleNoProviderThenShared(t *testing.T) {
	p := newSwarmPairApart(t)
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		r := mycoIn(t, p.leecher, dir, "fetch", p.root, "--timeout", "3s")
		if r.code == 0 {
			t.Fatal("fetch with no reachable provider succeeded")
		}
		assertOneLine(t, r.stderr, "no peer provides")
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("a failed fetch left %v in the current directory", entries)
		}
	}
	p.connect(t)
	r := mycoIn(t, p.leecher, dir, "fetch", p.root)
	if r.code != 0 {
		t.Fatalf("fetch once the sharer is reachable: exit %d: %s", r.code, r.stderr)
	}
	assertFile(t, filepath.Join(dir, "big.bin"), p.data) // the sharer's name
	p.checkLogs(t)
}

func TestLifecycleDaemonStopped(t *testing.T) {
	p := newSwarmPair(t)
	dest := filepath.Join(t.TempDir(), "out.bin")
	f := startFetch(t, p.leecher, "", 5, p.root, "-o", dest)
	start := time.Now()
	if err := p.dl.stop(); err != nil {
		t.Errorf("daemon stopped during a fetch: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("stop took %v", took)
	}
	r := f.wait(t, 10*time.Second)
	if r.code != exitPaused || !strings.Contains(lastLine(r.stderr), "daemon stopped; the fetch will resume when it starts again") {
		t.Errorf("fetch when its daemon stopped: exit %d %q", r.code, lastLine(r.stderr))
	}
	p.resumeAfterRestart(t, dest)
}

// resumeAfterRestart checks that an interrupted fetch left nothing at
// dest, then starts the leecher again: the fetch resumes by itself
// (redialling the seeder it remembers) and finishes into the same
// destination; a fetch again succeeds and the logs stay quiet.
func (p *swarmPair) resumeAfterRestart(t *testing.T, dest string) {
	t.Helper()
	if _, err := os.Stat(dest); err == nil {
		t.Errorf("%s exists before the fetch finished", dest)
	}
	p.dl = startDaemon(t, p.leecher)
	st := watchUntil(t, p.leecher, p.root, 2*time.Minute, func(st statJSON) bool { return !active(st.State) })
	if st.State != "seeding" && st.State != "done" {
		t.Fatalf("resumed fetch ended %+v", st)
	}
	assertFile(t, dest, p.data)
	p.fetchAgain(t)
	p.checkLogs(t)
}

func TestLifecycleKilledDaemon(t *testing.T) {
	p := newSwarmPair(t)
	dest := filepath.Join(t.TempDir(), "out.bin")
	f := startFetch(t, p.leecher, "", 5, p.root, "-o", dest)
	p.dl.kill()
	r := f.wait(t, 10*time.Second)
	if r.code == 0 || !strings.Contains(lastLine(r.stderr), "the fetch will resume") {
		t.Errorf("fetch when its daemon was killed: exit %d %q", r.code, lastLine(r.stderr))
	}
	p.resumeAfterRestart(t, dest)
}

// brokenSource runs the scenario of a sharer whose file changes under it
// (change edits or deletes it; restore puts the original back).
func brokenSource(t *testing.T, change func(p *swarmPair)) {
	p := newSwarmPair(t)
	dest := filepath.Join(t.TempDir(), "out.bin")
	f := startFetch(t, p.leecher, "", 5, p.root, "-o", dest, "--idle-limit", "5s", "--timeout", "90s")
	change(p)
	r := f.wait(t, 2*time.Minute)
	if r.code == 0 {
		t.Fatal("fetch from a broken source exited 0")
	}
	assertNothingAt(t, dest)
	if e := lsJSON(t, p.seeder)[p.root]; e.State != "broken" || e.Reason == "" {
		t.Errorf("the seeder lists its broken root as %+v; want broken with a reason", e)
	}
	if e, ok := lsJSON(t, p.leecher)[p.root]; ok && e.State != "failed" {
		t.Errorf("the leecher lists the failed fetch as %+v", e)
	}
	if n := countLines(p.ds.log.String(), "cannot serve block"); n > 3 {
		t.Errorf("the seeder logged 'cannot serve block' %d times", n)
	}
	// Sharing the original file again re-imports it: seeding again, and
	// the leecher's fetch succeeds.
	if err := os.WriteFile(p.src, p.data, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := myco(t, p.seeder, "share", p.src); strings.TrimSpace(r.stdout) != p.root {
		t.Fatalf("share again: %q %s", r.stdout, r.stderr)
	}
	if e := lsJSON(t, p.seeder)[p.root]; e.State != "seeding" {
		t.Errorf("after sharing again the seeder lists %+v", e)
	}
	if r := myco(t, p.leecher, "fetch", p.root, "-o", dest); r.code != 0 {
		t.Fatalf("fetch after the re-share: %s", r.stderr)
	}
	assertFile(t, dest, p.data)
	p.checkLogs(t)
}

func TestLifecycleSourceEdited(t *testing.T) {
	brokenSource(t, func(p *swarmPair) {
		edited := bytes.Clone(p.data)
		for i := range edited {
			edited[i] ^= 0xff
		}
		if err := os.WriteFile(p.src, edited, 0o644); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLifecycleSourceDeleted(t *testing.T) {
	brokenSource(t, func(p *swarmPair) {
		if err := os.Remove(p.src); err != nil {
			t.Fatal(err)
		}
	})
}

// mountTmpfs mounts a tmpfs of size at a new directory, unmounted at the
// end of the test; it skips the test where that is not possible.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := filepath.Join(t.TempDir(), "small")
	os.Mkdir(dir, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

func TestLifecycleDiskFull(t *testing.T) {
	p := newSwarmPair(t)
	small := mountTmpfs(t, "8m")
	start := time.Now()
	r := mycoIn(t, p.leecher, small, "fetch", p.root, "--timeout", "90s")
	if r.code == 0 {
		t.Fatal("fetch into a full disk exited 0")
	}
	assertOneLine(t, r.stderr, "no space left")
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("a full disk took %v to be reported", took)
	}
	if entries, _ := os.ReadDir(small); len(entries) != 0 {
		t.Errorf("a failed fetch left %v on the full disk", entries)
	}
	if st, ok := stat(t, p.leecher, p.root); ok && active(st.State) {
		t.Errorf("the root is wedged: %+v", st)
	}
	// Room made: the retry writes the sharer's name and says so.
	if out, err := exec.Command("mount", "-o", "remount,size=64m", small).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v %s", err, out)
	}
	r = mycoIn(t, p.leecher, small, "fetch", p.root)
	if r.code != 0 {
		t.Fatalf("fetch after freeing space: %s", r.stderr)
	}
	want := filepath.Join(small, "big.bin")
	if !strings.Contains(r.stdout, " to "+want+":") {
		t.Errorf("fetch printed %q; want the path it wrote, %s", r.stdout, want)
	}
	assertFile(t, want, p.data)
	p.checkLogs(t)
}

func TestLifecycleNamesAndForce(t *testing.T) {
	p := newSwarmPair(t)
	dir := t.TempDir()
	r := mycoIn(t, p.leecher, dir, "fetch", p.root)
	if r.code != 0 {
		t.Fatalf("fetch without -o: %s", r.stderr)
	}
	assertFile(t, filepath.Join(dir, "big.bin"), p.data)
	if e := lsJSON(t, p.leecher)[p.root]; e.Name != "big.bin" || e.State != "seeding" {
		t.Errorf("the leecher lists %+v; want big.bin, seeding", e)
	}
	if e := lsJSON(t, p.seeder)[p.root]; e.Name != "big.bin" {
		t.Errorf("the seeder lists %+v; want the name it shared", e)
	}
	// An existing destination is never replaced without --force.
	other := filepath.Join(dir, "mine.bin")
	os.WriteFile(other, []byte("precious"), 0o644)
	r = myco(t, p.leecher, "fetch", p.root, "-o", other)
	assertOneLine(t, r.stderr, "already exists")
	if b, _ := os.ReadFile(other); string(b) != "precious" {
		t.Fatal("fetch replaced an existing file without --force")
	}
	if r := myco(t, p.leecher, "fetch", p.root, "-o", other, "--force"); r.code != 0 {
		t.Fatalf("fetch --force: %s", r.stderr)
	}
	assertFile(t, other, p.data)

	// A directory root lands as a folder of its name; a top-level
	// symlink is followed at share.
	album := filepath.Join(p.dir, "album")
	os.MkdirAll(album, 0o755)
	os.WriteFile(filepath.Join(album, "a.txt"), []byte("hello"), 0o644)
	dirRoot := strings.TrimSpace(myco(t, p.seeder, "share", album).stdout)
	dir2 := t.TempDir()
	if r := mycoIn(t, p.leecher, dir2, "fetch", dirRoot); r.code != 0 {
		t.Fatalf("fetch of a directory: %s", r.stderr)
	}
	if b, err := os.ReadFile(filepath.Join(dir2, "album", "a.txt")); err != nil || string(b) != "hello" {
		t.Errorf("directory fetched as %v %q", err, b)
	}
	link := filepath.Join(p.dir, "link.bin")
	os.Symlink(p.src, link)
	if r := myco(t, p.seeder, "share", link); strings.TrimSpace(r.stdout) != p.root {
		t.Errorf("share of a symlink: %q %s; want the target's root", r.stdout, r.stderr)
	}

	// Accounting: the seeder counted what it uploaded for the root.
	if st, _ := stat(t, p.seeder, p.root); st.Uploaded < int64(len(p.data)) {
		t.Errorf("seeder's stat: uploaded %d; want at least %d", st.Uploaded, len(p.data))
	}
	if r := myco(t, p.seeder, "swarm", "stats"); !strings.Contains(r.stdout, getID(t, p.leecher).ID) {
		t.Errorf("seeder's swarm stats lacks the leecher: %q", r.stdout)
	}
	metrics := scrape(t, p.seeder)
	if !strings.Contains(metrics, `myco_swarm_root_bytes_total{direction="up",root="`+p.root+`"}`) {
		t.Errorf("/metrics lacks the root's byte counter")
	}
	p.checkLogs(t)
}

// scrape returns a daemon's /metrics.
func scrape(t *testing.T, repo string) string {
	t.Helper()
	addr, _ := os.ReadFile(filepath.Join(repo, "api"))
	token, _ := os.ReadFile(filepath.Join(repo, "api.token"))
	req, _ := http.NewRequest(http.MethodGet, "http://"+strings.TrimSpace(string(addr))+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
