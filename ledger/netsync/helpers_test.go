package netsync

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"github.com/myco-p2p/myco/internal/leakcheck"
	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/ledger/ledgertest"
	"github.com/myco-p2p/myco/ledger/miner"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// hangGuard bounds every wait; the tests never sleep, they wait for events.
const hangGuard = 60 * time.Second

// fakeClock is the injected clock: it moves only when a test says so.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// testLogger routes slog to t.Log until the test's cleanup is done.
func testLogger(tb testing.TB, level slog.Level) *slog.Logger {
	w := &tbWriter{tb: tb}
	tb.Cleanup(func() { w.done.Store(true) }) // registered first, runs last
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type tbWriter struct {
	tb   testing.TB
	done atomic.Bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.tb.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// fixture is a dev chain of fixtureLen blocks on schedule (one second
// apart, genesis difficulty), generated once: block 1 pays keyB, the rest
// keyA.
const fixtureLen = 2000

var (
	fixtureOnce   sync.Once
	fixtureBlocks []*ledger.Block
	keyA          = ledgertest.DeterministicKey(0)
	keyB          = ledgertest.DeterministicKey(1)
)

func fixture(tb testing.TB) []*ledger.Block {
	fixtureOnce.Do(func() {
		g := ledgertest.New(ledger.NetworkDev.Params(), 1)
		g.Miner = keyA
		payB := ledgertest.Addr(keyB)
		parent := "genesis"
		for i := 1; i <= fixtureLen; i++ {
			name := fmt.Sprintf("b%d", i)
			var o ledgertest.Opts
			if i == 1 {
				o.PayTo = &payB
			}
			fixtureBlocks = append(fixtureBlocks, g.NextBlock(name, parent, nil, o))
			parent = name
		}
	})
	return fixtureBlocks
}

// afterFixture is a clock reading a few seconds after block n of the fixture.
func afterFixture(tb testing.TB, n int) time.Time {
	return time.UnixMilli(fixture(tb)[n-1].Header.Time).Add(5 * time.Second)
}

// node is one in-process peer: a mocknet host, an in-memory dev chain and
// the service.
type node struct {
	h     host.Host
	chain *ledger.Chain
	svc   *Service
	bans  chan peer.ID
	wake  chan struct{} // a transaction arrived or a peer was banned
}

type netOpts struct {
	clock   *fakeClock
	preload int // fixture blocks each node starts with
	// peers are linked and connected before the service starts, so its
	// first sync round already knows all of them.
	peers []*node
	cfg   func(i int, c *Config)
}

func newTestChain(tb testing.TB, clock *fakeClock, blocks []*ledger.Block) *ledger.Chain {
	tb.Helper()
	c, err := ledger.OpenChain(ledger.Config{Params: ledger.NetworkDev.Params(), Store: ledger.NewMemStore()})
	if err != nil {
		tb.Fatal(err)
	}
	for _, b := range blocks {
		if _, err := c.ProcessBlock(b, clock.Now()); err != nil {
			tb.Fatalf("preload block %d: %v", b.Header.Height, err)
		}
	}
	return c
}

// newNode adds a started node to mn; it is closed at the end of the test.
func newNode(tb testing.TB, mn mocknet.Mocknet, i int, o netOpts) *node {
	tb.Helper()
	h, err := mn.GenPeer()
	if err != nil {
		tb.Fatal(err)
	}
	n := &node{h: h, chain: newTestChain(tb, o.clock, fixture(tb)[:o.preload]), bans: make(chan peer.ID, 16), wake: make(chan struct{}, 1)}
	poke := func() {
		select {
		case n.wake <- struct{}{}:
		default:
		}
	}
	cfg := Config{
		Logger: testLogger(tb, testLogLevel).With("node", i),
		Now:    o.clock.Now,
		Ticks:  make(chan time.Time), // housekeeping is driven by hand
		OnBan: func(p peer.ID, _ string) {
			select {
			case n.bans <- p:
			default:
			}
			poke()
		},
		OnTx: func(*ledger.Tx, peer.ID) { poke() },
	}
	for _, p := range o.peers {
		connect(tb, mn, n, p)
	}
	if o.cfg != nil {
		o.cfg(i, &cfg)
	}
	if n.svc, err = New(h, n.chain, cfg); err != nil {
		tb.Fatal(err)
	}
	if err := n.svc.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := n.svc.Close(); err != nil {
			tb.Errorf("close service: %v", err)
		}
		n.chain.Close()
	})
	return n
}

// newNet builds k nodes on a fresh mocknet, all linked and connected.
func newNet(tb testing.TB, k int, o netOpts) (mocknet.Mocknet, []*node) {
	tb.Helper()
	mn := mocknet.New()
	tb.Cleanup(func() { mn.Close() })
	nodes := make([]*node, k)
	for i := range nodes {
		nodes[i] = newNode(tb, mn, i, o)
	}
	if err := mn.LinkAll(); err != nil {
		tb.Fatal(err)
	}
	// One connection per pair (ConnectAllButSelf dials both ways, and two
	// simultaneous connections can cost pubsub its stream to a peer).
	for i := range nodes {
		for j := i + 1; j < len(nodes); j++ {
			if _, err := mn.ConnectPeers(nodes[i].h.ID(), nodes[j].h.ID()); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return mn, nodes
}

// connect links a and b and connects them.
func connect(tb testing.TB, mn mocknet.Mocknet, a, b *node) {
	tb.Helper()
	if _, err := mn.LinkPeers(a.h.ID(), b.h.ID()); err != nil {
		tb.Fatal(err)
	}
	if _, err := mn.ConnectPeers(a.h.ID(), b.h.ID()); err != nil {
		tb.Fatal(err)
	}
}

// peerWatch is a pubsub tracer that wakes a waiter whenever the peers of a
// topic may have changed. Topic.ListPeers lists the peers that subscribed
// and to which pubsub has an outbound queue; the two come in either order,
// and a topic's peer events mark only the first (a subscription), so a
// wait on those alone can miss the second. Every subscription comes in an
// RPC, traced before pubsub's loop handles it (ListPeers, answered by the
// same loop, then sees it), and the outbound stream is traced after its
// queue exists.
type peerWatch struct{ signal }

func newPeerWatch() *peerWatch { return &peerWatch{} }

func (w *peerWatch) OnNewOutboundStream(peer.ID, protocol.ID) { w.poke() }
func (w *peerWatch) OnClosedOutboundStream(peer.ID)           { w.poke() }
func (w *peerWatch) RecvRPC(*pubsub.RPC)                      { w.poke() }
func (w *peerWatch) Join(string)                              {}
func (w *peerWatch) Leave(string)                             {}
func (w *peerWatch) Graft(peer.ID, string)                    {}
func (w *peerWatch) Prune(peer.ID, string)                    {}
func (w *peerWatch) ValidateMessage(*pubsub.Message)          {}
func (w *peerWatch) DeliverMessage(*pubsub.Message)           {}
func (w *peerWatch) RejectMessage(*pubsub.Message, string)    {}
func (w *peerWatch) DuplicateMessage(*pubsub.Message)         {}
func (w *peerWatch) ThrottlePeer(peer.ID)                     {}
func (w *peerWatch) SendRPC(*pubsub.RPC, peer.ID)             {}
func (w *peerWatch) DropRPC(*pubsub.RPC, peer.ID)             {}
func (w *peerWatch) UndeliverableMessage(*pubsub.Message)     {}

// waitGossip waits until every node sees want peers on the blocks topic.
func waitGossip(tb testing.TB, nodes []*node, want int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	for i, n := range nodes {
		if err := n.svc.WaitGossipPeers(ctx, want); err != nil {
			tb.Fatalf("node %d: %v", i, err)
		}
	}
}

// waitChains waits until cond holds, re-checking whenever any node's tip
// moves, a transaction arrives or a peer is banned; the timeout only
// guards against a hang.
func waitChains(tb testing.TB, nodes []*node, what string, cond func() bool) {
	tb.Helper()
	wake := make(chan struct{}, 1)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, n := range nodes {
		tips, cancel := n.chain.SubscribeTip()
		wg.Go(func() {
			defer cancel()
			for {
				select {
				case <-done:
					return
				case _, ok := <-tips:
					if !ok {
						return
					}
					select {
					case wake <- struct{}{}:
					default:
					}
				}
			}
		})
	}
	for _, n := range nodes {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				case <-n.wake:
					select {
					case wake <- struct{}{}:
					default:
					}
				}
			}
		})
	}
	defer func() { close(done); wg.Wait() }()
	timeout := time.NewTimer(hangGuard)
	defer timeout.Stop()
	for !cond() {
		select {
		case <-wake:
		case <-timeout.C:
			for i, n := range nodes {
				t := n.chain.Tip()
				tb.Logf("node %d: height %d tip %s stats %+v", i, t.Height, t.Hash, n.svc.Stats())
			}
			tb.Fatalf("timed out waiting for %s", what)
		}
	}
}

func sameTip(nodes []*node) bool {
	t := nodes[0].chain.Tip().Hash
	for _, n := range nodes[1:] {
		if n.chain.Tip().Hash != t {
			return false
		}
	}
	return true
}

// mine builds a block on n's tip paying to, solves it, hands it to n's
// chain and broadcasts it: what the node does when its miner finds one.
func mine(tb testing.TB, n *node, to ledger.Address, now time.Time) *ledger.Block {
	tb.Helper()
	blk, err := n.chain.BlockTemplate(to, now)
	if err != nil {
		tb.Fatal(err)
	}
	if ok, err := miner.Solve(context.Background(), &blk.Header, n.chain.Params(), 0, 1, 0, nil); !ok || err != nil {
		tb.Fatalf("solve: %v", err)
	}
	if res, err := n.chain.ProcessBlock(blk, now); err != nil || res.Status != ledger.StatusMainChain {
		tb.Fatalf("mined block: %v %v", res.Status, err)
	}
	if err := n.svc.BroadcastBlock(blk); err != nil {
		tb.Fatal(err)
	}
	return blk
}

func addr(k *btcec.PrivateKey) ledger.Address { return ledgertest.Addr(k) }

// testLogLevel is the level of the services' logs in tests; MYCO_TEST_DEBUG
// lowers it to debug.
var testLogLevel = func() slog.Level {
	if os.Getenv("MYCO_TEST_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}()

// nopHost is a mocknet host for tests that call the protocol logic
// directly.
func nopHost(tb testing.TB) host.Host {
	mn := mocknet.New()
	tb.Cleanup(func() { mn.Close() })
	h, err := mn.GenPeer()
	if err != nil {
		tb.Fatal(err)
	}
	return h
}
