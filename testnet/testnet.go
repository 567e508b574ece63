package testnet

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/myco-p2p/myco/node"
)

// eventTimeout bounds a wait for something the network must do at once;
// reaching it means the test failed, not that the machine is slow.
const eventTimeout = 30 * time.Second

// Kind says how the nodes of a Network reach each other.
type Kind int

const (
	// Mock nodes live on a mocknet: no sockets, links made and cut at will.
	Mock Kind = iota
	// Loopback nodes are real libp2p hosts on 127.0.0.1 (TCP and QUIC).
	Loopback
)

// Network is a set of in-process myco nodes, each with its own repo in a
// temporary directory. Everything it starts is stopped by t.Cleanup.
type Network struct {
	t     testing.TB
	kind  Kind
	mn    mocknet.Mocknet
	repos []*node.Repo

	mu    sync.Mutex
	nodes []*node.Node // nil while a node is killed
}

// New starts n dev-network nodes of the given kind. They are not connected:
// call Connect, Star or ConnectAll.
func New(t testing.TB, kind Kind, n int) *Network {
	t.Helper()
	nw := &Network{t: t, kind: kind, nodes: make([]*node.Node, n)}
	if kind == Mock {
		nw.mn = mocknet.New()
	}
	t.Cleanup(nw.close)
	dir := t.TempDir()
	for i := range n {
		path := filepath.Join(dir, fmt.Sprintf("node%d", i))
		if _, err := node.InitRepo(path, "dev"); err != nil {
			t.Fatalf("testnet: init node %d: %v", i, err)
		}
		repo, err := node.OpenRepo(path)
		if err != nil {
			t.Fatalf("testnet: open node %d: %v", i, err)
		}
		nw.repos = append(nw.repos, repo)
		nw.start(i)
	}
	if kind == Mock {
		nw.linkMissing()
	}
	return nw
}

// start brings up node i on its repo (again, after Kill).
func (nw *Network) start(i int) {
	nw.t.Helper()
	repo := nw.repos[i]
	opts := node.Options{Logger: testLogger(nw.t, i)}
	switch nw.kind {
	case Mock:
		sk, err := repo.Identity()
		if err != nil {
			nw.t.Fatalf("testnet: node %d identity: %v", i, err)
		}
		h, err := nw.mn.AddPeer(sk, ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", 20000+i)))
		if err != nil {
			nw.t.Fatalf("testnet: node %d mock host: %v", i, err)
		}
		opts.Host = h
	case Loopback:
		opts.Listen = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}
	}
	n, err := node.New(repo, opts)
	if err != nil {
		nw.t.Fatalf("testnet: start node %d: %v", i, err)
	}
	nw.mu.Lock()
	nw.nodes[i] = n
	nw.mu.Unlock()
}

// testLogger routes a node's logs to t.Log, tagged with its index.
func testLogger(t testing.TB, i int) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", i)
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// Len is the number of nodes, running or killed.
func (nw *Network) Len() int { return len(nw.repos) }

// Node returns node i, or nil while it is killed.
func (nw *Network) Node(i int) *node.Node {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return nw.nodes[i]
}

// Repo returns node i's repo.
func (nw *Network) Repo(i int) *node.Repo { return nw.repos[i] }

// AddrInfo returns how to reach node i.
func (nw *Network) AddrInfo(i int) peer.AddrInfo {
	h := nw.Node(i).Host()
	return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}
}

// Connect dials node j from node i and returns once both ends count the
// connection.
func (nw *Network) Connect(i, j int) {
	nw.t.Helper()
	hj := nw.Node(j).Host()
	sub, err := hj.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged))
	if err != nil {
		nw.t.Fatalf("testnet: subscribe: %v", err)
	}
	defer sub.Close()
	hi := nw.Node(i).Host()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	if err := hi.Connect(ctx, nw.AddrInfo(j)); err != nil {
		nw.t.Fatalf("testnet: connect %d -> %d: %v", i, j, err)
	}
	for hj.Network().Connectedness(hi.ID()) != network.Connected {
		select {
		case <-sub.Out():
		case <-ctx.Done():
			nw.t.Fatalf("testnet: node %d never saw the connection from %d", j, i)
		}
	}
}

// Star connects every node to node 0, as bootstrapping to one peer does.
func (nw *Network) Star() {
	for i := 1; i < nw.Len(); i++ {
		nw.Connect(i, 0)
	}
}

// ConnectAll connects every pair of nodes.
func (nw *Network) ConnectAll() {
	for i := range nw.Len() {
		for j := i + 1; j < nw.Len(); j++ {
			nw.Connect(i, j)
		}
	}
}

// Partition cuts every link between the two groups of node indexes and
// closes the connections across them; within a group nothing changes. Only
// mock networks can be partitioned.
func (nw *Network) Partition(a, b []int) {
	nw.t.Helper()
	nw.mustMock("Partition")
	for _, i := range a {
		for _, j := range b {
			pi, pj := nw.Node(i).Host().ID(), nw.Node(j).Host().ID()
			if err := nw.mn.UnlinkPeers(pi, pj); err != nil {
				nw.t.Fatalf("testnet: unlink %d-%d: %v", i, j, err)
			}
			// Close from both ends, so neither side still counts the
			// connection when Partition returns.
			if err := nw.mn.DisconnectPeers(pi, pj); err != nil {
				nw.t.Fatalf("testnet: disconnect %d-%d: %v", i, j, err)
			}
			if err := nw.mn.DisconnectPeers(pj, pi); err != nil {
				nw.t.Fatalf("testnet: disconnect %d-%d: %v", j, i, err)
			}
		}
	}
}

// Heal links every pair of running nodes again. Connections are not made:
// the nodes' own services (or the test) redial.
func (nw *Network) Heal() {
	nw.t.Helper()
	nw.mustMock("Heal")
	nw.linkMissing()
}

// linkMissing links every pair of running nodes that has no link.
func (nw *Network) linkMissing() {
	nw.t.Helper()
	for i := range nw.Len() {
		for j := i + 1; j < nw.Len(); j++ {
			ni, nj := nw.Node(i), nw.Node(j)
			if ni == nil || nj == nil || nw.Linked(i, j) {
				continue
			}
			if _, err := nw.mn.LinkPeers(ni.Host().ID(), nj.Host().ID()); err != nil {
				nw.t.Fatalf("testnet: link %d-%d: %v", i, j, err)
			}
		}
	}
}

// Linked reports whether running nodes i and j can reach each other.
func (nw *Network) Linked(i, j int) bool {
	if nw.kind != Mock {
		return true
	}
	return len(nw.mn.LinksBetweenPeers(nw.Node(i).Host().ID(), nw.Node(j).Host().ID())) > 0
}

func (nw *Network) mustMock(op string) {
	if nw.kind != Mock {
		nw.t.Fatalf("testnet: %s needs a mock network", op)
	}
}

// Kill stops node i as a crash would end it: its host goes away and its
// repo stays as it is.
func (nw *Network) Kill(i int) {
	nw.t.Helper()
	nw.mu.Lock()
	n := nw.nodes[i]
	nw.nodes[i] = nil
	nw.mu.Unlock()
	if n == nil {
		nw.t.Fatalf("testnet: node %d is not running", i)
	}
	if nw.kind == Mock {
		// Drop the dead host's links: a restarted node gets new ones, and
		// mocknet would otherwise dial over either at random.
		for j := range nw.Len() {
			if o := nw.Node(j); o != nil && len(nw.mn.LinksBetweenPeers(o.Host().ID(), n.Host().ID())) > 0 {
				if err := nw.mn.UnlinkPeers(o.Host().ID(), n.Host().ID()); err != nil {
					nw.t.Fatalf("testnet: unlink %d-%d: %v", i, j, err)
				}
			}
		}
	}
	if err := n.Close(); err != nil {
		nw.t.Logf("testnet: close node %d: %v", i, err)
	}
}

// Restart starts a killed node i again on its repo, with the same identity.
// On a mock network it is linked to every running node again.
func (nw *Network) Restart(i int) {
	nw.t.Helper()
	if nw.Node(i) != nil {
		nw.t.Fatalf("testnet: node %d is running", i)
	}
	nw.start(i)
	if nw.kind == Mock {
		nw.linkMissing()
	}
}

func (nw *Network) close() {
	nw.mu.Lock()
	nodes := nw.nodes
	nw.nodes = make([]*node.Node, len(nodes))
	nw.mu.Unlock()
	var wg sync.WaitGroup
	for i, n := range nodes {
		if n == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.Close(); err != nil {
				nw.t.Logf("testnet: close node %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if nw.mn != nil {
		nw.mn.Close()
	}
}
