package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer collects what a process writes and wakes those waiting for
// more.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced at every write
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{})} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	close(b.changed)
	b.changed = make(chan struct{})
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// snapshot returns what was written so far and a channel closed at the
// next write.
func (b *syncBuffer) snapshot() (string, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String(), b.changed
}

// waitFor blocks until what was written satisfies ok, the process ends
// (done closes) or timeout passes; it reports whether ok was met.
func (b *syncBuffer) waitFor(ok func(string) bool, done <-chan struct{}, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		s, changed := b.snapshot()
		if ok(s) {
			return true
		}
		select {
		case <-changed:
		case <-done:
			s, _ := b.snapshot()
			return ok(s)
		case <-deadline:
			return false
		}
	}
}

// countLines counts the lines of s that contain sub.
func countLines(s, sub string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

// proc is a CLI command running in the background.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
	code           int
}

// startMyco starts the CLI against repo in dir ("" is the test's
// directory) without waiting for it.
func startMyco(t *testing.T, repo, dir string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(mycoBin, append([]string{"--repo", repo}, args...)...)
	cmd.Dir = dir
	p := &proc{cmd: cmd, stdout: newSyncBuffer(), stderr: newSyncBuffer(), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.code = ee.ExitCode()
		} else if err != nil {
			p.code = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill() // only the process this test started
			<-p.done
		}
	})
	return p
}

// wait waits for the command to end and returns what it printed.
func (p *proc) wait(t *testing.T, timeout time.Duration) result {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%v still running after %v; stderr: %s", p.cmd.Args, timeout, p.stderr)
	}
	return result{p.stdout.String(), p.stderr.String(), p.code}
}

// mycoIn runs the CLI in dir and waits for it.
func mycoIn(t *testing.T, repo, dir string, args ...string) result {
	t.Helper()
	return startMyco(t, repo, dir, args...).wait(t, time.Minute)
}

// statJSON is what `myco stat --json` prints.
type statJSON struct {
	CID         string  `json:"cid"`
	State       string  `json:"state"`
	Reason      string  `json:"reason"`
	Name        string  `json:"name"`
	Dest        string  `json:"dest"`
	Have        int     `json:"have"`
	Leaves      int     `json:"leaves"`
	Bytes       int64   `json:"bytes"`
	Size        int64   `json:"size"`
	Percent     float64 `json:"percent"`
	Uploaded    int64   `json:"uploaded"`
	Downloaded  int64   `json:"downloaded"`
	Downloading bool    `json:"downloading"`
	Kept        bool    `json:"kept"`
}

// stat returns a root's stat, and false when the daemon knows nothing of it.
func stat(t *testing.T, repo, root string) (statJSON, bool) {
	t.Helper()
	r := myco(t, repo, "stat", root, "--json")
	if r.code != 0 {
		if strings.Contains(r.stderr, "neither kept nor being fetched") {
			return statJSON{}, false
		}
		t.Fatalf("stat %s: exit %d: %s", root, r.code, r.stderr)
	}
	var st statJSON
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("stat --json: %v: %q", err, r.stdout)
	}
	return st, true
}

// watchUntil follows `myco stat --watch --json root` (one line per change,
// sent by the daemon as it changes) until a line satisfies ok; it fails
// the test if the watch ends first.
func watchUntil(t *testing.T, repo, root string, timeout time.Duration, ok func(statJSON) bool) statJSON {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	w := startMyco(t, repo, "", "stat", "--watch", "--json", root)
	defer func() {
		select {
		case <-w.done:
		default:
			w.cmd.Process.Kill()
		}
	}()
	var got statJSON
	found := w.stdout.waitFor(func(s string) bool {
		for _, l := range strings.Split(s, "\n") {
			var st statJSON
			if json.Unmarshal([]byte(l), &st) == nil && st.CID != "" && ok(st) {
				got = st
				return true
			}
		}
		return false
	}, w.done, time.Until(deadlineOf(ctx)))
	if !found {
		t.Fatalf("stat --watch %s never showed the awaited state; it printed %q, stderr %q", root, w.stdout, w.stderr)
	}
	return got
}

func deadlineOf(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// rootEntry is one element of `myco ls --json`.
type rootEntry struct {
	CID     string  `json:"cid"`
	Size    uint64  `json:"size"`
	Name    string  `json:"name"`
	State   string  `json:"state"`
	Reason  string  `json:"reason"`
	Percent float64 `json:"percent"`
	Dir     bool    `json:"dir"`
}

func lsJSON(t *testing.T, repo string) map[string]rootEntry {
	t.Helper()
	out := map[string]rootEntry{}
	for _, e := range mycoJSON[[]rootEntry](t, repo, "ls", "--json") {
		out[e.CID] = e
	}
	return out
}

// active reports whether a state is one of a fetch under way.
func active(state string) bool {
	switch state {
	case "queued", "finding peers", "downloading", "verifying":
		return true
	}
	return false
}

// poll calls ok every interval until it returns true or timeout passes; it
// reports whether ok was met.
func poll(timeout, interval time.Duration, ok func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if ok() {
			return true
		}
		select {
		case <-deadline.C:
			return ok()
		case <-tick.C:
		}
	}
}
