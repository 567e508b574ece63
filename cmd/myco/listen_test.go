package main

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startPlain runs `myco daemon` with no flags but the repo, exactly as the
// README says, and waits for its ready line; it fails the test when the
// daemon exits first.
func startPlain(t *testing.T, repo string) *proc {
	t.Helper()
	p := startMyco(t, repo, "", "daemon")
	if !p.stdout.waitFor(func(s string) bool { return strings.Contains(s, "daemon ready") }, p.done, time.Minute) {
		t.Fatalf("daemon not ready: exit %d, stderr %q", p.code, p.stderr)
	}
	return p
}

func TestTwoDevDaemonsAsTheREADMESaysRunSideBySide(t *testing.T) {
	var repos []string
	for _, name := range []string{"a", "b"} {
		repo := filepath.Join(t.TempDir(), name)
		if r := myco(t, repo, "init", "--network", "dev"); r.code != 0 {
			t.Fatalf("init: %s", r.stderr)
		}
		repos = append(repos, repo)
	}
	startPlain(t, repos[0])
	startPlain(t, repos[1])
	a, b := getID(t, repos[0]), getID(t, repos[1])
	if a.ID == b.ID {
		t.Fatal("both repos answer with one peer id")
	}
}

// tcpAddr returns the first /ip4/.../tcp/N address of an id, without its
// /p2p/ part.
func tcpAddr(t *testing.T, id idJSON) string {
	t.Helper()
	for _, a := range id.Addrs {
		if strings.HasPrefix(a, "/ip4/127.0.0.1/tcp/") {
			return strings.Split(a, "/p2p/")[0]
		}
	}
	t.Fatalf("no tcp address in %v", id.Addrs)
	return ""
}

func TestListenAddressInUseIsAnError(t *testing.T) {
	first := initRepo(t)
	startDaemon(t, first)
	taken := tcpAddr(t, getID(t, first))

	second := initRepo(t)
	r := myco(t, second, "daemon", "--listen", taken)
	if r.code == 0 {
		t.Fatal("a daemon started on a port another daemon listens on")
	}
	assertOneLine(t, r.stderr, "listen address "+taken+" is already in use")
	// QUIC too.
	var quic string
	for _, a := range getID(t, first).Addrs {
		if strings.HasPrefix(a, "/ip4/127.0.0.1/udp/") && strings.Contains(a, "/quic-v1") {
			quic = strings.Split(a, "/p2p/")[0]
		}
	}
	r = myco(t, second, "daemon", "--listen", quic)
	if r.code == 0 {
		t.Fatal("a daemon started on a QUIC port another daemon listens on")
	}
	assertOneLine(t, r.stderr, "listen address "+quic+" is already in use")
	// The first daemon is unharmed.
	getID(t, first)

	// Taken by any program, not only myco.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	r = myco(t, second, "daemon", "--listen", "/ip4/127.0.0.1/tcp/"+strconv.Itoa(port))
	if r.code == 0 {
		t.Fatal("a daemon started on a taken port")
	}
	assertOneLine(t, r.stderr, "already in use")
}

func TestAPIAddressInUseIsAnError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	repo := initRepo(t)
	r := myco(t, repo, "daemon", "--api", ln.Addr().String())
	if r.code == 0 {
		t.Fatal("a daemon started with its API on a taken port")
	}
	assertOneLine(t, r.stderr, "api address "+ln.Addr().String()+" is already in use")
	if strings.Contains(r.stderr, "bind:") {
		t.Errorf("the message repeats the system's words: %q", r.stderr)
	}
}
