package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/myco-p2p/myco/node"
	"github.com/myco-p2p/myco/testnet/lab"
)

// labPort is the TCP and QUIC port every lab daemon listens on.
const labPort = 4001

// labNode is a myco daemon running in one node of a network lab.
type labNode struct {
	lab  *lab.Lab
	name string
	repo string
	log  *syncBuffer
}

// configure changes a repo's config.json before its daemon starts.
func configure(t *testing.T, repo string, change func(*node.Config)) {
	t.Helper()
	path := filepath.Join(repo, "config.json")
	c, err := node.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	change(&c)
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
}

// startLabDaemon starts `myco daemon` in a lab node, listening on TCP and
// QUIC labPort, and waits for its ready line. The lab stops it, by PID.
func startLabDaemon(t *testing.T, l *lab.Lab, name, repo string, extra ...string) *labNode {
	t.Helper()
	args := append([]string{mycoBin, "--repo", repo, "daemon", "--api", "127.0.0.1:0",
		"--listen", fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", labPort),
		"--listen", fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", labPort),
	}, extra...)
	cmd := l.Command(name, args...)
	out := newSyncBuffer()
	cmd.Stdout, cmd.Stderr = out, out
	if err := l.Start(cmd); err != nil {
		t.Fatal(err)
	}
	// A bound, not a timing: under CI every package's tests share the
	// two cores with the race detector on. (One home once never got
	// ready after "dht started": netsync's Start deadlocked with pubsub,
	// since fixed.)
	if !out.waitFor(func(s string) bool { return strings.Contains(s, "daemon ready") }, nil, 3*time.Minute) {
		// Where is it stuck? On SIGQUIT Go writes every goroutine's
		// stack to stderr, which out holds, and exits.
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-l.Done(cmd):
		case <-time.After(30 * time.Second):
		}
		t.Fatalf("%s: daemon not ready after 3 minutes; its output and goroutines: %s", name, out)
	}
	return &labNode{lab: l, name: name, repo: repo, log: out}
}

// run runs the CLI against the node's daemon, in its namespace (the API
// listens on the namespace's loopback).
func (n *labNode) run(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return runCmd(t, exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.lab.Namespace(n.name), mycoBin, "--repo", n.repo}, args...)...))
}

// labID is what `myco id --json` says of reachability.
type labID struct {
	ID           string   `json:"id"`
	Reachability string   `json:"reachability"`
	RelayAddrs   []string `json:"relay_addrs"`
	DHTMode      string   `json:"dht_mode"`
}

func (n *labNode) id(t *testing.T) labID {
	t.Helper()
	r := n.run(t, "id", "--json")
	if r.code != 0 {
		t.Fatalf("%s: id: exit %d: %s", n.name, r.code, r.stderr)
	}
	var id labID
	if err := json.Unmarshal([]byte(r.stdout), &id); err != nil {
		t.Fatalf("%s: id --json: %v: %q", n.name, err, r.stdout)
	}
	return id
}

// labPeer is one entry of `myco peers --json`.
type labPeer struct {
	ID        string `json:"id"`
	Addr      string `json:"addr"`
	Direction string `json:"direction"`
	Relayed   bool   `json:"relayed"`
	Transport string `json:"transport"`
	Conns     []struct {
		Addr    string `json:"addr"`
		Relayed bool   `json:"relayed"`
	} `json:"conns"`
}

func (n *labNode) peer(t *testing.T, id string) (labPeer, bool) {
	t.Helper()
	r := n.run(t, "peers", "--json")
	if r.code != 0 {
		t.Fatalf("%s: peers: exit %d: %s", n.name, r.code, r.stderr)
	}
	var peers []labPeer
	if err := json.Unmarshal([]byte(r.stdout), &peers); err != nil {
		t.Fatalf("%s: peers --json: %v: %q", n.name, err, r.stdout)
	}
	for _, p := range peers {
		if p.ID == id {
			return p, true
		}
	}
	return labPeer{}, false
}

// exchange shares size random bytes on from and fetches them on to within
// timeout. It returns how long the fetch took and the connection to uses to
// reach from afterwards, or the fetch's error.
func exchange(t *testing.T, from, to *labNode, size int, timeout time.Duration) (time.Duration, labPeer, error) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	dir := t.TempDir()
	src := filepath.Join(dir, "src.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r := from.run(t, "share", src)
	if r.code != 0 {
		t.Fatalf("%s: share: exit %d: %s", from.name, r.code, r.stderr)
	}
	root := strings.TrimSpace(r.stdout)
	out := filepath.Join(dir, "got.bin")
	start := time.Now()
	r = to.run(t, "fetch", root, "-o", out, "--json", "--timeout", timeout.String())
	took := time.Since(start)
	if r.code != 0 {
		return took, labPeer{}, fmt.Errorf("%s: fetch from %s: exit %d: %s", to.name, from.name, r.code, strings.TrimSpace(r.stderr))
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%s: the file fetched from %s differs from the shared one (%v)", to.name, from.name, err)
	}
	p, ok := to.peer(t, from.id(t).ID)
	if !ok {
		t.Fatalf("%s is not connected to %s after the fetch", to.name, from.name)
	}
	return took, p, nil
}

// TestHomesFetchDirectlyAcrossNATs builds a lab with two public nodes (a
// bootstrap node and a relay; both offer a relay and serve the DHT once
// AutoNAT finds them public, which takes a second public peer to answer
// their dial-back requests) and four homes: a and b behind cone NATs, c
// behind a symmetric NAT, d behind a stateful firewall. Each home must find
// itself private and hold a relay reservation within 60 s of the start.
// Then a and b fetch from each other, and d and a, over direct,
// hole-punched connections; c and a fetch from each other, and the test
// reports how (the public nodes carry data for homes that cannot punch).
// Last, a block mined at a reaches every home and a transfer sent from d
// is mined.
func TestHomesFetchDirectlyAcrossNATs(t *testing.T) {
	// The repos are made before the lab, so the lab's Close (which stops
	// the daemons) runs before their directories are removed.
	repos := map[string]string{}
	for _, name := range []string{"boot", "relay", "a", "b", "c", "d"} {
		repos[name] = initRepo(t)
	}
	big := 64 << 20
	if testing.Short() {
		big = 8 << 20
	}

	l := lab.New(t)
	bootAddr := l.AddPublic("boot")
	relayAddr := l.AddPublic("relay")
	kinds := map[string]lab.Kind{"a": lab.Cone, "b": lab.Cone, "c": lab.Symmetric, "d": lab.Firewall}
	for _, name := range []string{"a", "b", "c", "d"} {
		l.AddHome(name, kinds[name])
	}

	// Both public nodes relay, and carry data (capped at 20 MB/s) for
	// homes that cannot punch through to each other.
	public := func(c *node.Config) {
		on := true
		c.Relay.Service = &on
		c.Relay.CarryData = true
		c.Relay.CarryRate = "20M"
		c.DHT.Mode = node.DHTModeAuto
	}
	configure(t, repos["boot"], public)
	configure(t, repos["relay"], public)
	start := time.Now()
	boot := startLabDaemon(t, l, "boot", repos["boot"])
	bootMA := fmt.Sprintf("/ip4/%s/tcp/%d/p2p/%s", bootAddr, labPort, boot.id(t).ID)
	relay := startLabDaemon(t, l, "relay", repos["relay"], "--bootstrap", bootMA)
	relayMA := fmt.Sprintf("/ip4/%s/tcp/%d/p2p/%s", relayAddr, labPort, relay.id(t).ID)
	for _, p := range []*labNode{boot, relay} {
		var last labID
		if !poll(30*time.Second, 250*time.Millisecond, func() bool {
			last = p.id(t)
			return last.Reachability == "public" && last.DHTMode == "server"
		}) {
			t.Fatalf("%s: reachability %s, dht %s after %v; want public and server\n%s", p.name, last.Reachability, last.DHTMode, time.Since(start).Round(time.Millisecond), p.log)
		}
		t.Logf("%s: public after %v", p.name, time.Since(start).Round(time.Millisecond))
	}

	homes := map[string]*labNode{}
	homeStart := time.Now()
	for _, name := range []string{"a", "b", "c", "d"} {
		configure(t, repos[name], func(c *node.Config) {
			c.DHT.Mode = node.DHTModeAuto
			c.Relay.Static = []string{relayMA}
		})
		homes[name] = startLabDaemon(t, l, name, repos[name], "--bootstrap", bootMA)
	}
	a, b, c, d := homes["a"], homes["b"], homes["c"], homes["d"]

	for _, h := range []*labNode{a, b, c, d} {
		var last labID
		if !poll(60*time.Second-time.Since(start), 500*time.Millisecond, func() bool {
			last = h.id(t)
			return last.Reachability == "private" && len(last.RelayAddrs) > 0
		}) {
			t.Fatalf("%s after %v: reachability %s, relay addrs %v, dht %s; want private with a reservation\n%s\nrelay:\n%s",
				h.name, time.Since(start).Round(time.Millisecond), last.Reachability, last.RelayAddrs, last.DHTMode, h.log, relay.log)
		}
		if last.DHTMode != "client" {
			t.Errorf("%s: private, but its DHT is a %s", h.name, last.DHTMode)
		}
		t.Logf("%s (%s): private with a relay reservation %v after the lab's start, %v after its own", h.name, kinds[h.name],
			time.Since(start).Round(time.Millisecond), time.Since(homeStart).Round(time.Millisecond))
	}

	// publicAddr is where a home is reached from the internet: its
	// router's WAN behind a NAT, its own address behind a firewall.
	publicAddr := func(name string) string {
		if kinds[name] == lab.Firewall {
			return l.Addr(name).String()
		}
		return l.WAN(name).String()
	}
	direct := []struct {
		from, to *labNode
		size     int
	}{
		{b, a, big},
		{a, b, 8 << 20},
		{d, a, 8 << 20},
		{a, d, 8 << 20},
	}
	for _, x := range direct {
		took, p, err := exchange(t, x.from, x.to, x.size, 90*time.Second)
		if err != nil {
			t.Errorf("%v\n%s:\n%s\n%s:\n%s", err, x.to.name, x.to.log, x.from.name, x.from.log)
			continue
		}
		t.Logf("%s fetched %d MiB from %s in %v (%.1f MiB/s, with the lookup and the hole punch) at %s (%s, %s)",
			x.to.name, x.size>>20, x.from.name, took.Round(time.Millisecond), float64(x.size)/(1<<20)/took.Seconds(),
			p.Addr, p.Transport, p.Direction)
		if p.Relayed {
			t.Errorf("%s's connection to %s is relayed (%s), not direct: %+v", x.to.name, x.from.name, p.Addr, p.Conns)
		} else if want := publicAddr(x.from.name); !strings.Contains(p.Addr, "/"+want+"/") {
			t.Errorf("%s's connection to %s is at %s; want %s", x.to.name, x.from.name, p.Addr, want)
		}
	}

	// A symmetric NAT picks a new port per destination, so the address
	// the relay saw is not the one a punch would reach: the fetch falls
	// back to the relay, which carries data here. Report what happened.
	for _, x := range []struct{ from, to *labNode }{{a, c}, {c, a}} {
		took, p, err := exchange(t, x.from, x.to, 4<<20, 90*time.Second)
		how := "directly at " + p.Addr
		if p.Relayed {
			how = "through the relay"
		}
		if err != nil {
			t.Errorf("%v\n%s:\n%s\n%s:\n%s", err, x.to.name, x.to.log, x.from.name, x.from.log)
			continue
		}
		t.Logf("%s (%s) fetched 4 MiB from %s (%s) %s in %v", x.to.name, kinds[x.to.name], x.from.name, kinds[x.from.name],
			how, took.Round(time.Millisecond))
	}

	ledgerAcrossNATs(t, a, []*labNode{b, c, d}, d, b)
}

// ledgerAcrossNATs has miner mine a block and checks that it reaches
// every node of others; then it funds sender, which sends to to, and
// checks that the transfer is mined and seen by sender.
func ledgerAcrossNATs(t *testing.T, miner *labNode, others []*labNode, sender, to *labNode) {
	t.Helper()
	if r := miner.run(t, "mine", "start"); r.code != 0 {
		t.Fatalf("%s: mine start: exit %d: %s", miner.name, r.code, r.stderr)
	}
	const first = 2
	if r := miner.run(t, "chain", "wait", strconv.Itoa(first), "--timeout", "60s"); r.code != 0 {
		t.Fatalf("%s: chain wait %d: exit %d: %s", miner.name, first, r.code, r.stderr)
	}
	want := miner.blockHash(t, first)
	start := time.Now()
	for _, n := range others {
		if r := n.run(t, "chain", "wait", strconv.Itoa(first), "--timeout", "60s"); r.code != 0 {
			t.Fatalf("%s: block %d mined at %s did not arrive: exit %d: %s\n%s", n.name, first, miner.name, r.code, r.stderr, n.log)
		}
		if got := n.blockHash(t, first); got != want {
			t.Errorf("%s: block %d is %s; %s mined %s", n.name, first, got, miner.name, want)
		}
	}
	t.Logf("block %d mined at %s reached %d homes within %v", first, miner.name, len(others), time.Since(start).Round(time.Millisecond))

	const amount = 1000
	send := func(from *labNode, addr string, units int) {
		t.Helper()
		if r := from.run(t, "send", addr, strconv.Itoa(units), "--fee", "1"); r.code != 0 {
			t.Fatalf("%s: send: exit %d: %s", from.name, r.code, r.stderr)
		}
	}
	balance := func(n *labNode, addr string) (bal, nonce uint64) {
		r := n.run(t, "wallet", "balance", "--json", addr)
		var b struct {
			Balance uint64 `json:"balance"`
			Nonce   uint64 `json:"nonce"`
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &b) != nil {
			t.Fatalf("%s: wallet balance: exit %d: %s %s", n.name, r.code, r.stdout, r.stderr)
		}
		return b.Balance, b.Nonce
	}
	senderAddr, toAddr := sender.walletAddr(t), to.walletAddr(t)
	send(miner, senderAddr, 10*amount)
	if !poll(90*time.Second, 500*time.Millisecond, func() bool { bal, _ := balance(sender, senderAddr); return bal >= amount+1 }) {
		t.Fatalf("%s: the funds %s sent were not mined within 90 s", sender.name, miner.name)
	}
	start = time.Now()
	send(sender, toAddr, amount)
	if !poll(90*time.Second, 500*time.Millisecond, func() bool { _, nonce := balance(sender, senderAddr); return nonce == 1 }) {
		t.Fatalf("%s: its transfer was not mined within 90 s\n%s", sender.name, sender.log)
	}
	if bal, _ := balance(miner, toAddr); bal != amount {
		t.Errorf("%s sees %s's balance %d after the transfer from %s; want %d", miner.name, to.name, bal, sender.name, amount)
	}
	t.Logf("a transfer sent from %s was mined at %s and seen back at %s within %v", sender.name, miner.name, sender.name, time.Since(start).Round(time.Millisecond))
	if r := miner.run(t, "mine", "stop"); r.code != 0 {
		t.Errorf("%s: mine stop: exit %d: %s", miner.name, r.code, r.stderr)
	}
}

// blockHash is the hash of the node's block at height.
func (n *labNode) blockHash(t *testing.T, height int) string {
	t.Helper()
	r := n.run(t, "chain", "block", strconv.Itoa(height), "--json")
	var b struct {
		Hash string `json:"hash"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &b) != nil || b.Hash == "" {
		t.Fatalf("%s: chain block %d: exit %d: %s %s", n.name, height, r.code, r.stdout, r.stderr)
	}
	return b.Hash
}

// walletAddr is the node's wallet address.
func (n *labNode) walletAddr(t *testing.T) string {
	t.Helper()
	r := n.run(t, "wallet", "address")
	if r.code != 0 {
		t.Fatalf("%s: wallet address: exit %d: %s", n.name, r.code, r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}
