//go:build linux

package lab

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// Topology (one lab; every namespace is named Prefix()+suffix):
//
//	inet       the internet: bridge br0, 11.0.113.1/24, forwarding, with a
//	           route to each firewall or open home's public LAN via its router
//	pub-NAME   a public node: eth0 11.0.113.(10+i) on br0
//	rt-NAME    a home's router: wan 11.0.113.(100+k) on br0, lan on the LAN
//	NAME       a home's host: eth0 .2 on the LAN, default route via lan (.1)
//
// A cone or symmetric home's LAN is 192.168.k.0/24 behind NAT; a firewall or
// open home's LAN is the public 11.51.100.16k/28, routed without NAT.

// maxHomes bounds the homes of one lab: a public LAN is one /28 of
// 11.51.100.0/24 and index 0 is never used.
const maxHomes = 15

// Lab is one closed network of namespaces. Its methods are safe for
// concurrent use.
type Lab struct {
	t      testing.TB
	prefix string

	mu      sync.Mutex
	nss     []string // namespaces made, in order
	nodes   map[string]*node
	publics int
	homes   int
	procs   []*proc
	closed  bool
}

type node struct {
	ns   string
	addr netip.Addr
	wan  netip.Addr // a home's router WAN address; zero for a public node
	kind Kind       // zero for a public node
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// Check says why this machine cannot run a lab, or nil when it can: the lab
// needs root, ip(8), tc(8) and nft(8).
func Check() error {
	if os.Geteuid() != 0 {
		return errors.New("lab: needs root (network namespaces and nftables); run as root")
	}
	for _, tool := range []string{"ip", "tc", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			hint := ""
			if tool == "nft" {
				hint = " (apt-get install -y nftables; .ci/run installs it)"
			}
			return fmt.Errorf("lab: %s not found%s: %w", tool, hint, err)
		}
	}
	return nil
}

// New builds the internet segment of a new lab and registers its Close with
// t.Cleanup. It fails the test, never skips it, when the machine cannot run
// a lab.
func New(t testing.TB) *Lab {
	t.Helper()
	if err := Check(); err != nil {
		t.Fatal(err)
	}
	l := &Lab{
		t:      t,
		prefix: fmt.Sprintf("mycolab-%d-%s-", os.Getpid(), rand.Text()[:6]),
		nodes:  map[string]*node{},
	}
	t.Cleanup(l.Close)
	inet := l.prefix + "inet"
	err := l.addNS(inet)
	if err == nil {
		err = l.run(inet,
			"ip link add br0 type bridge",
			"ip addr add 11.0.113.1/24 dev br0",
			"ip link set br0 up",
			"sysctl -qw net.ipv4.ip_forward=1",
			"sysctl -qw net.ipv4.conf.all.send_redirects=0",
			"sysctl -qw net.ipv4.conf.br0.send_redirects=0",
		)
	}
	if err != nil {
		t.Fatalf("lab: internet: %v", err)
	}
	return l
}

// Prefix is the name every namespace of this lab starts with; no other run
// uses it.
func (l *Lab) Prefix() string { return l.prefix }

// AddPublic adds a public node on the internet segment and returns its
// address.
func (l *Lab) AddPublic(name string) netip.Addr {
	l.t.Helper()
	l.mu.Lock()
	if _, ok := l.nodes[name]; ok {
		l.mu.Unlock()
		l.t.Fatalf("lab: node %q exists", name)
	}
	l.publics++
	i := l.publics
	l.mu.Unlock()
	if i > 80 {
		l.t.Fatalf("lab: too many public nodes")
	}
	addr := netip.AddrFrom4([4]byte{11, 0, 113, byte(10 + i)})
	ns := l.prefix + "pub-" + name
	if err := l.addNS(ns); err != nil {
		l.t.Fatalf("lab: public %s: %v", name, err)
	}
	if err := l.plug(ns, "eth0", fmt.Sprintf("p%d", i), addr); err != nil {
		l.t.Fatalf("lab: public %s: %v", name, err)
	}
	l.mu.Lock()
	l.nodes[name] = &node{ns: ns, addr: addr}
	l.mu.Unlock()
	return addr
}

// AddHome adds a home of the given kind: a router on the internet segment
// and a host behind it on its own LAN. The host is the node called name;
// its router is the node called name+"-router". It returns the host's
// address (private behind a NAT, public otherwise).
func (l *Lab) AddHome(name string, kind Kind) netip.Addr {
	l.t.Helper()
	ruleset, ok := Ruleset(kind)
	if !ok {
		l.t.Fatalf("lab: home %s: unknown kind %q", name, kind)
	}
	l.mu.Lock()
	if _, ok := l.nodes[name]; ok {
		l.mu.Unlock()
		l.t.Fatalf("lab: node %q exists", name)
	}
	l.homes++
	k := l.homes
	l.mu.Unlock()
	if k > maxHomes {
		l.t.Fatalf("lab: more than %d homes", maxHomes)
	}
	wan := netip.AddrFrom4([4]byte{11, 0, 113, byte(100 + k)})
	var gw, host netip.Addr
	var bits int
	public := kind == Firewall || kind == Open
	if public {
		gw = netip.AddrFrom4([4]byte{11, 51, 100, byte(16*k + 1)})
		host = netip.AddrFrom4([4]byte{11, 51, 100, byte(16*k + 2)})
		bits = 28
	} else {
		gw = netip.AddrFrom4([4]byte{192, 168, byte(k), 1})
		host = netip.AddrFrom4([4]byte{192, 168, byte(k), 2})
		bits = 24
	}
	rt, hs := l.prefix+"rt-"+name, l.prefix+name
	err := l.addNS(rt)
	if err == nil {
		err = l.addNS(hs)
	}
	if err == nil {
		err = l.plug(rt, "wan", fmt.Sprintf("h%d", k), wan)
	}
	if err == nil {
		err = l.run(rt,
			fmt.Sprintf("ip link add lan type veth peer name eth0 netns %s", hs),
			fmt.Sprintf("ip addr add %s/%d dev lan", gw, bits),
			"ip link set lan up",
			"sysctl -qw net.ipv4.ip_forward=1",
		)
	}
	if err == nil {
		err = l.run(hs,
			fmt.Sprintf("ip addr add %s/%d dev eth0", host, bits),
			"ip link set eth0 up",
			fmt.Sprintf("ip route add default via %s", gw),
		)
	}
	if err == nil {
		err = l.nft(rt, ruleset)
	}
	if err == nil && public {
		err = l.run(l.prefix+"inet", fmt.Sprintf("ip route add %s via %s", netip.PrefixFrom(gw, bits).Masked(), wan))
	}
	if err != nil {
		l.t.Fatalf("lab: home %s (%s): %v", name, kind, err)
	}
	l.mu.Lock()
	l.nodes[name] = &node{ns: hs, addr: host, wan: wan, kind: kind}
	l.nodes[name+"-router"] = &node{ns: rt, addr: wan}
	l.mu.Unlock()
	return host
}

// WAN is the address of a home's router on the internet segment.
func (l *Lab) WAN(home string) netip.Addr {
	l.t.Helper()
	n := l.node(home)
	if !n.wan.IsValid() {
		l.t.Fatalf("lab: %s is not a home", home)
	}
	return n.wan
}

// Addr is a node's own address.
func (l *Lab) Addr(name string) netip.Addr {
	l.t.Helper()
	return l.node(name).addr
}

// Namespace is the network namespace a node runs in.
func (l *Lab) Namespace(name string) string {
	l.t.Helper()
	return l.node(name).ns
}

func (l *Lab) node(name string) *node {
	l.t.Helper()
	l.mu.Lock()
	n, ok := l.nodes[name]
	l.mu.Unlock()
	if !ok {
		l.t.Fatalf("lab: no node %q", name)
	}
	return n
}

// Command returns, unstarted, args run in a node's namespace through
// `ip netns exec`.
func (l *Lab) Command(name string, args ...string) *exec.Cmd {
	l.t.Helper()
	return exec.Command("ip", append([]string{"netns", "exec", l.node(name).ns}, args...)...)
}

// Exec runs args in a node's namespace and returns their combined output.
func (l *Lab) Exec(name string, args ...string) ([]byte, error) {
	l.t.Helper()
	out, err := l.Command(name, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: %s: %w", name, strings.Join(args, " "), err)
	}
	return out, nil
}

// Start starts cmd (from Command) and makes it the lab's: Close kills it by
// its PID and waits for it. The caller must not Wait for it.
func (l *Lab) Start(cmd *exec.Cmd) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("lab: closed")
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("lab: start %s: %w", strings.Join(cmd.Args, " "), err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		_ = cmd.Wait() // a process the lab kills ends in error; that is its purpose
	}()
	l.procs = append(l.procs, p)
	return nil
}

// Done returns a channel closed once cmd, which Start started, has exited
// (nil for a command the lab did not start).
func (l *Lab) Done(cmd *exec.Cmd) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.procs {
		if p.cmd == cmd {
			return p.done
		}
	}
	return nil
}

// CapUplink limits what a home sends to the internet to rate bits per
// second, with a token bucket (tc tbf) on its router's WAN link.
func (l *Lab) CapUplink(home string, rate int64) {
	l.t.Helper()
	if rate <= 0 {
		l.t.Fatalf("lab: uplink rate %d", rate)
	}
	burst := max(rate/8/50, 16*1024) // 20 ms of the rate, at least 16 KiB
	rt := l.node(home + "-router").ns
	if err := l.run(rt, fmt.Sprintf("tc qdisc replace dev wan root tbf rate %dbit burst %d latency 100ms", rate, burst)); err != nil {
		l.t.Fatalf("lab: cap %s: %v", home, err)
	}
}

// Close kills every process the lab started, by PID, and deletes every
// namespace it made, with their links and rulesets. It reports what it
// could not remove to t.Error.
func (l *Lab) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	procs, nss := l.procs, l.nss
	l.mu.Unlock()
	for _, p := range procs {
		_ = p.cmd.Process.Kill() // it may have ended already
		<-p.done
	}
	for i := len(nss) - 1; i >= 0; i-- {
		if out, err := exec.Command("ip", "netns", "del", nss[i]).CombinedOutput(); err != nil {
			l.t.Errorf("lab: delete namespace %s: %v: %s", nss[i], err, out)
		}
	}
}

// addNS makes a namespace with its loopback up, and remembers it for Close.
func (l *Lab) addNS(ns string) error {
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns add %s: %w: %s", ns, err, bytes.TrimSpace(out))
	}
	l.mu.Lock()
	l.nss = append(l.nss, ns)
	l.mu.Unlock()
	return l.run(ns, "ip link set lo up")
}

// plug links namespace ns to the internet bridge: the veth pair is made
// inside the internet namespace with its peer moved straight into ns, so it
// never exists in the machine's own namespace.
func (l *Lab) plug(ns, dev, port string, addr netip.Addr) error {
	err := l.run(l.prefix+"inet",
		fmt.Sprintf("ip link add %s type veth peer name %s netns %s", port, dev, ns),
		fmt.Sprintf("ip link set %s master br0", port),
		fmt.Sprintf("ip link set %s up", port),
	)
	if err != nil {
		return err
	}
	return l.run(ns,
		fmt.Sprintf("ip addr add %s/24 dev %s", addr, dev),
		fmt.Sprintf("ip link set %s up", dev),
		"ip route add default via 11.0.113.1",
	)
}

// run runs each command line (split on spaces) in namespace ns.
func (l *Lab) run(ns string, lines ...string) error {
	for _, line := range lines {
		args := append([]string{"netns", "exec", ns}, strings.Fields(line)...)
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %s: %w: %s", ns, line, err, bytes.TrimSpace(out))
		}
	}
	return nil
}

// nft loads ruleset into namespace ns.
func (l *Lab) nft(ns, ruleset string) error {
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: nft: %w: %s", ns, err, bytes.TrimSpace(out))
	}
	return nil
}
