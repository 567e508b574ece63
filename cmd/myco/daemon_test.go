package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run the real binary as separate processes on loopback, as a
// user would. TestMain builds it once.

var mycoBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "myco-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mycoBin = filepath.Join(dir, "myco")
	out, err := exec.Command("go", "build", "-o", mycoBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build myco: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one CLI run produced.
type result struct {
	stdout, stderr string
	code           int
}

// myco runs the CLI against repo and returns what it printed.
func myco(t *testing.T, repo string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return runCmd(t, exec.CommandContext(ctx, mycoBin, append([]string{"--repo", repo}, args...)...))
}

// mycoJSON runs a myco command that prints JSON (args include --json)
// against repo, fails the test unless it exits 0 with JSON that decodes
// into a T, and returns it.
func mycoJSON[T any](t *testing.T, repo string, args ...string) T {
	t.Helper()
	var v T
	r := myco(t, repo, args...)
	if r.code != 0 {
		t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("%s: %v: %q", strings.Join(args, " "), err, r.stdout)
	}
	return v
}

// runCmd runs a CLI command and returns what it printed and its exit
// code; failing to start it fails the test.
func runCmd(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", cmd.Args, err)
	}
	return result{so.String(), se.String(), code}
}

func initRepo(t *testing.T) string {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "repo")
	if r := myco(t, repo, "init", "--network", "dev"); r.code != 0 {
		t.Fatalf("init: exit %d: %s", r.code, r.stderr)
	}
	return repo
}

// daemon is a myco daemon process started by a test.
type daemon struct {
	t     *testing.T
	repo  string
	cmd   *exec.Cmd
	ready string // the "daemon ready" line
	exit  chan error
	log   *syncBuffer // what it wrote to stderr
}

// startDaemon runs `myco daemon` on repo and waits for its ready line.
func startDaemon(t *testing.T, repo string, extra ...string) *daemon {
	t.Helper()
	return startDaemonEnv(t, repo, nil, extra...)
}

// startDaemonEnv is startDaemon with variables (KEY=VALUE) added to the
// daemon's environment.
func startDaemonEnv(t *testing.T, repo string, env []string, extra ...string) *daemon {
	t.Helper()
	args := append([]string{"--repo", repo, "daemon", "--api", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(mycoBin, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := newSyncBuffer()
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, repo: repo, cmd: cmd, exit: make(chan error, 1), log: stderr}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		d.exit <- cmd.Wait()
	}()
	t.Cleanup(func() { d.stop() })
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("daemon exited before it was ready: %s", stderr.String())
			}
			if strings.Contains(l, "daemon ready") {
				d.ready = l
				go func() {
					for range lines {
					}
				}()
				return d
			}
		case <-timeout:
			t.Fatalf("daemon not ready after 60 s: %s", stderr.String())
		}
	}
}

// stop sends SIGTERM and waits for the process to end, killing it (by its
// PID, which this test started) if it hangs. It returns the exit error.
func (d *daemon) stop() error {
	if d.cmd.ProcessState != nil {
		return nil
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.exit:
		d.exit <- err
		return err
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		err := <-d.exit
		d.exit <- err
		d.t.Errorf("daemon did not stop within 30 s of SIGTERM")
		return err
	}
}

type idJSON struct {
	ID      string   `json:"id"`
	Addrs   []string `json:"addrs"`
	Address string   `json:"address"`
	Network string   `json:"network"`
}

func getID(t *testing.T, repo string) idJSON {
	t.Helper()
	return mycoJSON[idJSON](t, repo, "id", "--json")
}

// peerIDs lists the peers the daemon of repo is connected to.
func peerIDs(t *testing.T, repo string) []string {
	t.Helper()
	var ids []string
	peers := mycoJSON[[]peerEntry](t, repo, "peers", "--json")
	for _, p := range peers {
		if p.Banned {
			// Listed after the connected peers, without an address.
			continue
		}
		if p.Addr == "" {
			t.Errorf("peer %s has no addr", p.ID)
		}
		ids = append(ids, p.ID)
	}
	return ids
}

func TestTwoDaemonsConnectAndListEachOther(t *testing.T) {
	repoA, repoB := initRepo(t), initRepo(t)
	startDaemon(t, repoA)
	startDaemon(t, repoB)
	a, b := getID(t, repoA), getID(t, repoB)
	if a.Network != "dev" || !strings.HasPrefix(a.Address, "mycod1") || len(a.Addrs) == 0 {
		t.Fatalf("id of A = %+v; want dev network, a mycod1 address and addresses", a)
	}
	for _, ma := range a.Addrs {
		if !strings.HasSuffix(ma, "/p2p/"+a.ID) {
			t.Errorf("address %s does not end in /p2p/%s", ma, a.ID)
		}
	}
	if got := peerIDs(t, repoA); len(got) != 0 {
		t.Fatalf("A has peers %v before any connect", got)
	}
	r := myco(t, repoB, "connect", a.Addrs[0])
	if r.code != 0 {
		t.Fatalf("connect: exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, a.ID) {
		t.Errorf("connect printed %q; want it to name %s", r.stdout, a.ID)
	}
	if got := peerIDs(t, repoB); len(got) != 1 || got[0] != a.ID {
		t.Errorf("B's peers = %v; want [%s]", got, a.ID)
	}
	if got := peerIDs(t, repoA); len(got) != 1 || got[0] != b.ID {
		t.Errorf("A's peers = %v; want [%s]", got, b.ID)
	}
}

func TestAPIRequiresToken(t *testing.T) {
	repo := initRepo(t)
	startDaemon(t, repo)
	addr, err := os.ReadFile(filepath.Join(repo, "api"))
	if err != nil {
		t.Fatal(err)
	}
	token, err := os.ReadFile(filepath.Join(repo, "api.token"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"api", "api.token", "identity.key", "wallet.key"} {
		st, err := os.Stat(filepath.Join(repo, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v; want 0600", f, st.Mode().Perm())
		}
	}
	base := "http://" + strings.TrimSpace(string(addr))
	get := func(method, path, auth string) int {
		req, err := http.NewRequest(method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	good := "Bearer " + strings.TrimSpace(string(token))
	for _, path := range []string{"/api/v0/id", "/api/v0/peers", "/metrics", "/", "/no/such/path"} {
		for _, auth := range []string{"", "Bearer", "Bearer wrong", "Basic " + strings.TrimSpace(string(token)), good + "x"} {
			if code := get(http.MethodGet, path, auth); code != http.StatusUnauthorized {
				t.Errorf("GET %s with Authorization %q: status %d; want 401", path, auth, code)
			}
		}
	}
	if code := get(http.MethodPost, "/api/v0/connect", ""); code != http.StatusUnauthorized {
		t.Errorf("POST /api/v0/connect without token: status %d; want 401", code)
	}
	for _, path := range []string{"/api/v0/id", "/metrics"} {
		if code := get(http.MethodGet, path, good); code != http.StatusOK {
			t.Errorf("GET %s with the token: status %d; want 200", path, code)
		}
	}
	// The metrics carry go-libp2p's and the node's own.
	req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	req.Header.Set("Authorization", good)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"myco_peers", "myco_chain_height", "myco_dht_routing_table_peers", "libp2p_rcmgr_", "myco_api_requests_total", "go_goroutines",
		`myco_swarm_bytes_total{direction="up"}`, `myco_swarm_bytes_total{direction="down"}`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestInitTwiceRefusesAndChangesNothing(t *testing.T) {
	repo := initRepo(t)
	before := snapshot(t, repo)
	r := myco(t, repo, "init", "--network", "main")
	if r.code == 0 {
		t.Fatal("second init succeeded")
	}
	assertOneLine(t, r.stderr, "already exists")
	if after := snapshot(t, repo); after != before {
		t.Errorf("second init changed the repo:\nbefore %s\nafter  %s", before, after)
	}
}

// snapshot summarises every file of a repo: name, mode and content.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %v %x;", e.Name(), info.Mode(), data)
	}
	return b.String()
}

func TestSecondDaemonOnOneRepoRefuses(t *testing.T) {
	repo := initRepo(t)
	startDaemon(t, repo)
	r := myco(t, repo, "daemon", "--api", "127.0.0.1:0")
	if r.code == 0 {
		t.Fatal("second daemon on the same repo exited 0")
	}
	assertOneLine(t, r.stderr, "already running")
	// The first one still answers.
	getID(t, repo)
}

func TestSIGTERMExitsCleanlyAndRemovesAPIFile(t *testing.T) {
	repo := initRepo(t)
	d := startDaemon(t, repo)
	apiFile := filepath.Join(repo, "api")
	if _, err := os.Stat(apiFile); err != nil {
		t.Fatalf("api file missing while the daemon runs: %v", err)
	}
	start := time.Now()
	if err := d.stop(); err != nil {
		t.Fatalf("daemon exit after SIGTERM: %v; want exit 0", err)
	}
	t.Logf("daemon stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	if _, err := os.Stat(apiFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("api file still there after shutdown (stat: %v)", err)
	}
	// With no daemon, a command that needs one says so in one line.
	r := myco(t, repo, "peers")
	if r.code != 1 {
		t.Errorf("peers with no daemon: exit %d; want 1", r.code)
	}
	assertOneLine(t, r.stderr, "no daemon is running")
	// And the repo can be served again.
	startDaemon(t, repo)
	getID(t, repo)
}

func TestCLIErrorsAreOneLine(t *testing.T) {
	repo := initRepo(t)
	missing := filepath.Join(t.TempDir(), "nothing-here")
	cases := []struct {
		name string
		repo string
		args []string
		want string
	}{
		{"missing repo", missing, []string{"id"}, "no myco repo"},
		{"missing repo peers", missing, []string{"peers", "--json"}, "no myco repo"},
		{"no daemon", repo, []string{"peers"}, "no daemon is running"},
		{"no daemon balance", repo, []string{"wallet", "balance"}, "no daemon is running"},
		{"garbage multiaddr", repo, []string{"connect", "/not/a/multiaddr"}, "bad multiaddr"},
		{"multiaddr without peer id", repo, []string{"connect", "/ip4/127.0.0.1/tcp/1"}, "/p2p/"},
		{"unknown command", repo, []string{"frobnicate"}, "unknown command"},
		{"unknown flag", repo, []string{"id", "--frob"}, "flag provided but not defined"},
		{"missing argument", repo, []string{"connect"}, "usage"},
		{"bad network", filepath.Join(t.TempDir(), "r"), []string{"init", "--network", "moon"}, "network"},
		{"bad listen", repo, []string{"daemon", "--listen", "garbage", "--api", "127.0.0.1:0"}, "listen"},
		{"bad api", repo, []string{"daemon", "--api", "nowhere"}, "api address"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := myco(t, c.repo, c.args...)
			if r.code == 0 {
				t.Fatalf("exit 0; want an error (stdout %q)", r.stdout)
			}
			assertOneLine(t, r.stderr, c.want)
		})
	}
}

func TestConnectToGarbageWithDaemonRunning(t *testing.T) {
	repo := initRepo(t)
	startDaemon(t, repo)
	r := myco(t, repo, "connect", "/ip4/999.1.1.1/tcp/1")
	if r.code == 0 {
		t.Fatal("connect to a garbage address succeeded")
	}
	assertOneLine(t, r.stderr, "multiaddr")
	// The daemon keeps running.
	getID(t, repo)
}

// assertOneLine checks that stderr is a single line naming want, with no Go
// panic or stack trace.
func assertOneLine(t *testing.T, stderr, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) != 1 || lines[0] == "" {
		t.Errorf("stderr has %d lines; want one: %q", len(lines), stderr)
	}
	if !strings.HasPrefix(stderr, "myco: ") {
		t.Errorf("stderr %q does not start with \"myco: \"", stderr)
	}
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not mention %q", stderr, want)
	}
	if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
		t.Errorf("stderr shows a panic: %q", stderr)
	}
}
