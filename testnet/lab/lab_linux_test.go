//go:build linux

package lab

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary a small network helper (see helper)
// instead of running tests, so the lab's namespaces need nothing installed.
const helperEnv = "MYCOLAB_HELPER"

// unsolicited bounds a connection that the lab must drop: past it the dial
// timed out, which is the expected outcome.
const unsolicited = 1500 * time.Millisecond

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		if err := helper(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helper runs one of:
//
//	serve tcp|udp ADDR [PEER]   answer each connection or datagram with the
//	                            address it came from; print "ready" once bound
//	                            and (udp) once it has sent one datagram to PEER
//	ask udp LOCAL REMOTE...     from LOCAL, send to each REMOTE and print its
//	                            answer, or "timeout"
//	dial tcp REMOTE             print the server's answer, "timeout" or
//	                            "refused"
func helper(args []string) error {
	if len(args) < 3 {
		return fmt.Errorf("usage: serve|ask|dial tcp|udp ADDR...")
	}
	switch args[0] + " " + args[1] {
	case "serve tcp":
		ln, err := net.Listen("tcp", args[2])
		if err != nil {
			return err
		}
		fmt.Println("ready")
		for {
			c, err := ln.Accept()
			if err != nil {
				return err
			}
			fmt.Fprintln(c, c.RemoteAddr())
			c.Close()
		}
	case "serve udp":
		pc, err := net.ListenPacket("udp", args[2])
		if err != nil {
			return err
		}
		for _, p := range args[3:] {
			to, err := net.ResolveUDPAddr("udp", p)
			if err != nil {
				return err
			}
			if _, err := pc.WriteTo([]byte("punch"), to); err != nil {
				return err
			}
		}
		fmt.Println("ready")
		buf := make([]byte, 1500)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return err
			}
			if _, err := pc.WriteTo([]byte(from.String()), from); err != nil {
				return err
			}
		}
	case "ask udp":
		pc, err := net.ListenPacket("udp", args[2])
		if err != nil {
			return err
		}
		defer pc.Close()
		buf := make([]byte, 1500)
		for _, r := range args[3:] {
			to, err := net.ResolveUDPAddr("udp", r)
			if err != nil {
				return err
			}
			if _, err := pc.WriteTo([]byte("hello"), to); err != nil {
				return err
			}
			pc.SetReadDeadline(time.Now().Add(unsolicited))
			n, from, err := pc.ReadFrom(buf)
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				fmt.Println("timeout")
			case err != nil:
				return err
			case from.String() != to.String():
				return fmt.Errorf("answer from %s, not %s", from, to)
			default:
				fmt.Println(string(buf[:n]))
			}
		}
		return nil
	case "dial tcp":
		c, err := net.DialTimeout("tcp", args[2], unsolicited)
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			fmt.Println("timeout")
			return nil
		case errors.Is(err, syscall.ECONNREFUSED):
			fmt.Println("refused")
			return nil
		case err != nil:
			return err
		}
		defer c.Close()
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return err
		}
		fmt.Print(line)
		return nil
	}
	return fmt.Errorf("unknown helper %q", strings.Join(args[:2], " "))
}

// serve starts a helper server in node and returns once it is bound (and
// has sent to punch, if given).
func serve(t *testing.T, l *Lab, node, proto string, addr netip.AddrPort, punch ...netip.AddrPort) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{self, "serve", proto, addr.String()}
	for _, p := range punch {
		args = append(args, p.String())
	}
	cmd := l.Command(node, args...)
	cmd.Env = helperEnviron()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr // a helper that fails says why
	if err := l.Start(cmd); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("%s: serve %s %s: %q %v", node, proto, addr, line, err)
	}
}

// ask runs a helper client in node and returns its output lines, or nil
// after reporting its failure (it runs on goroutines, so never t.Fatal).
func ask(t *testing.T, l *Lab, node string, args ...string) []string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Error(err)
		return nil
	}
	cmd := l.Command(node, append([]string{self}, args...)...)
	cmd.Env = helperEnviron()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("%s: %s: %v\n%s", node, strings.Join(args, " "), err, out)
		return nil
	}
	return strings.Fields(string(out))
}

func ap(a netip.Addr, port uint16) string { return netip.AddrPortFrom(a, port).String() }

// TestLab builds one public node and a home of each kind and checks, with
// plain TCP and UDP, what each router lets through and how it rewrites it.
func TestLab(t *testing.T) {
	start := time.Now()
	rootLinks := links(t)
	l := New(t)
	pub := l.AddPublic("pub")
	kinds := []Kind{Cone, Symmetric, Firewall, Open}
	hosts := map[Kind]netip.Addr{}
	for _, k := range kinds {
		hosts[k] = l.AddHome(string(k), k)
	}
	l.CapUplink("cone", 10_000_000)
	if out, err := l.Exec("cone-router", "tc", "qdisc", "show", "dev", "wan"); err != nil || !strings.Contains(string(out), "tbf") {
		t.Errorf("cone uplink cap: %v %s", err, out)
	}
	t.Logf("lab built in %v", time.Since(start))
	if got := links(t); got != rootLinks {
		t.Errorf("the machine's own namespace has other links with a lab up:\n%s\nnot:\n%s", got, rootLinks)
	}

	serve(t, l, "pub", "tcp", netip.AddrPortFrom(pub, 4000))
	serve(t, l, "pub", "udp", netip.AddrPortFrom(pub, 4000))
	serve(t, l, "pub", "udp", netip.AddrPortFrom(pub, 4001))
	for _, k := range kinds {
		serve(t, l, string(k), "tcp", netip.AddrPortFrom(hosts[k], 5000))
		serve(t, l, string(k), "udp", netip.AddrPortFrom(hosts[k], 5000))
	}

	// Every home reaches the public node, and the public node sees each
	// home from the address its router shows the internet.
	var wg sync.WaitGroup
	for _, k := range kinds {
		wg.Go(func() {
			seenAs := hosts[k]
			if k == Cone || k == Symmetric {
				seenAs = l.WAN(string(k))
			}
			got := ask(t, l, string(k), "dial", "tcp", ap(pub, 4000))
			if len(got) != 1 || !strings.HasPrefix(got[0], seenAs.String()+":") {
				t.Errorf("%s home over TCP: public node saw %q, want %s:*", k, got, seenAs)
			}
			const local = 40000
			got = ask(t, l, string(k), "ask", "udp", ap(hosts[k], local), ap(pub, 4000), ap(pub, 4001))
			if len(got) != 2 {
				t.Errorf("%s home over UDP: public node answered %q", k, got)
				return
			}
			var ports [2]uint16
			for i, s := range got {
				a, err := netip.ParseAddrPort(s)
				if err != nil || a.Addr() != seenAs {
					t.Errorf("%s home over UDP: public node saw %q, want %s:*", k, s, seenAs)
					return
				}
				ports[i] = a.Port()
			}
			switch k {
			case Symmetric:
				// A new external port per destination.
				if ports[0] == ports[1] {
					t.Errorf("symmetric home: the same external port %d for two destinations", ports[0])
				}
			default:
				// Cone keeps the source port; no NAT keeps it too.
				if ports != [2]uint16{local, local} {
					t.Errorf("%s home: external ports %v, want the source port %d for both", k, ports, local)
				}
			}
		})
	}
	wg.Wait()

	// Unsolicited inbound to a home is dropped, not refused, except for the
	// open home. Behind a NAT the only address to try is the router's.
	for _, k := range kinds {
		wg.Go(func() {
			target := hosts[k]
			if k == Cone || k == Symmetric {
				target = l.WAN(string(k))
			}
			var tcp, udp []string
			var both sync.WaitGroup
			both.Go(func() { tcp = ask(t, l, "pub", "dial", "tcp", ap(target, 5000)) })
			both.Go(func() { udp = ask(t, l, "pub", "ask", "udp", ap(pub, 0), ap(target, 5000)) })
			both.Wait()
			for _, got := range [][]string{tcp, udp} {
				answered := len(got) == 1 && strings.HasPrefix(got[0], pub.String()+":")
				dropped := len(got) == 1 && got[0] == "timeout"
				if k == Open && !answered {
					t.Errorf("the open home at %s: %q, want an answer", target, got)
				}
				if k != Open && !dropped {
					t.Errorf("unsolicited to the %s home at %s: %q, want timeout", k, target, got)
				}
			}
		})
	}
	wg.Wait()

	// The firewall home is reachable only in answer to its own traffic:
	// once it has sent from 5001 to the public node's 4002, the public node
	// reaches 5001 from 4002, and still not from 4003.
	serve(t, l, "firewall", "udp", netip.AddrPortFrom(hosts[Firewall], 5001), netip.AddrPortFrom(pub, 4002))
	if got := ask(t, l, "pub", "ask", "udp", ap(pub, 4002), ap(hosts[Firewall], 5001)); len(got) != 1 || got[0] != ap(pub, 4002) {
		t.Errorf("the firewall home answering from 5001 to 4002: %q", got)
	}
	if got := ask(t, l, "pub", "ask", "udp", ap(pub, 4003), ap(hosts[Firewall], 5001)); len(got) != 1 || got[0] != "timeout" {
		t.Errorf("the firewall home from 4003, which it never sent to: %q, want timeout", got)
	}

	// Close leaves no namespace of this run and none of its processes.
	var pids []int
	l.mu.Lock()
	for _, p := range l.procs {
		pids = append(pids, p.cmd.Process.Pid)
	}
	l.mu.Unlock()
	l.Close()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	if strings.Contains(string(out), l.Prefix()) {
		t.Errorf("after Close, namespaces of %s remain:\n%s", l.Prefix(), out)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("after Close, process %d remains (%v)", pid, err)
		}
	}
	t.Logf("lab test took %v", time.Since(start))
}

// links lists the links of the test's own network namespace, the machine's.
func links(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ip", "-o", "link", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("ip link: %v: %s", err, out)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			names = append(names, f[1])
		}
	}
	return strings.Join(names, " ")
}

// helperEnviron is the environment of a helper: a race-enabled binary
// otherwise sleeps a second before it exits.
func helperEnviron() []string {
	return append(os.Environ(), helperEnv+"=1", "GORACE=atexit_sleep_ms=0")
}
