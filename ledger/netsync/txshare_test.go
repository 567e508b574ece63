package netsync

import (
	"context"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/ledger/ledgertest"
)

// joinTxsTopic returns a new mocknet peer, connected to victim and on its
// transactions topic (the victim knows it is), to flood from.
func joinTxsTopic(t *testing.T, mn mocknet.Mocknet, victim *node) (host.Host, *pubsub.Topic) {
	t.Helper()
	attacker, err := mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	watch := newPeerWatch()
	ps, err := pubsub.NewGossipSub(ctx, attacker, pubsub.WithFloodPublish(true), pubsub.WithRawTracer(watch),
		pubsub.WithPeerOutboundQueueSize(1024))
	if err != nil {
		t.Fatal(err)
	}
	topic, err := ps.Join(TxsTopic(ledger.NetworkDev))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { topic.Close() })
	if _, err := mn.LinkPeers(attacker.ID(), victim.h.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := mn.ConnectPeers(attacker.ID(), victim.h.ID()); err != nil {
		t.Fatal(err)
	}
	waitCtx, waitCancel := context.WithTimeout(ctx, hangGuard)
	defer waitCancel()
	if err := watch.wait(waitCtx, func() bool { return len(topic.ListPeers()) >= 1 }); err != nil {
		t.Fatalf("the attacker never saw the victim on the topic: %v", err)
	}
	return attacker, topic
}

// floodTxs publishes up to n transactions made by tx(i) until the victim
// bans someone, then checks that it banned the attacker and cut it off.
func floodTxs(t *testing.T, victim *node, attacker host.Host, topic *pubsub.Topic, n int, tx func(i int) *ledger.Tx) {
	t.Helper()
	for i := range n {
		if err := topic.Publish(context.Background(), tx(i).Encode()); err != nil {
			break // the victim is gone
		}
		if victim.svc.Stats().Bans > 0 {
			break
		}
	}
	select {
	case p := <-victim.bans:
		if p != attacker.ID() {
			t.Fatalf("banned %s, want the attacker", p)
		}
	case <-time.After(hangGuard):
		t.Fatalf("the flooder was not banned; stats %+v", victim.svc.Stats())
	}
	if !waitDisconnected(victim.h, attacker.ID()) {
		t.Error("the banned flooder is still connected")
	}
}

// waitDisconnected waits, at most hangGuard, until h has no connection to
// p: a ban is recorded, then the peer's connections are closed.
func waitDisconnected(h host.Host, p peer.ID) bool {
	gone := make(chan struct{}, 1)
	nb := &network.NotifyBundle{DisconnectedF: func(_ network.Network, c network.Conn) {
		if c.RemotePeer() == p {
			select {
			case gone <- struct{}{}:
			default:
			}
		}
	}}
	h.Network().Notify(nb)
	defer h.Network().StopNotify(nb)
	deadline := time.After(hangGuard)
	for h.Network().Connectedness(p) == network.Connected {
		select {
		case <-gone:
		case <-deadline:
			return false
		}
	}
	return true
}

// A peer relaying validly signed transactions from unfunded keys is
// scored for each and, past the threshold, banned and disconnected.
func TestUnfundedTxFloodBanned(t *testing.T) {
	clock := newClock(afterFixture(t, 3))
	mn, nodes := newNet(t, 1, netOpts{clock: clock, preload: 3})
	victim := nodes[0]
	attacker, topic := joinTxsTopic(t, mn, victim)
	g := ledgertest.New(ledger.NetworkDev.Params(), 7)
	// 2 points each: banned at the 50th that the victim validates (pubsub
	// drops what its queues cannot take, so the flood goes on until then).
	floodTxs(t, victim, attacker, topic, 5000, func(i int) *ledger.Tx {
		return g.Transfer(ledgertest.DeterministicKey(1000+i), addr(keyA), ledger.Coin, 1000, 0) // unfunded
	})
	if n := victim.chain.MempoolStats().Txs; n != 0 {
		t.Errorf("%d unfunded transactions in the mempool", n)
	}
}

// Transactions that cost a validation but are merely ignored (a nonce one
// past the sender's next: it may be honest and ahead of us) are never
// scored; the gossip budget bounds how many of them a peer gets
// validated: the burst, then (the clock stands still) none. A little over
// it they are shed, further over refused and scored, and the peer banned.
func TestGossipBudgetBansIgnoredTxFlood(t *testing.T) {
	clock := newClock(afterFixture(t, 3))
	mn, nodes := newNet(t, 1, netOpts{clock: clock, preload: 3, cfg: func(_ int, c *Config) {
		c.GossipBudget = GossipBudget{TxsPerSecond: 10, TxBurst: 20, MaxDelay: time.Second}
	}})
	victim := nodes[0]
	attacker, topic := joinTxsTopic(t, mn, victim)
	g := ledgertest.New(ledger.NetworkDev.Params(), 7)
	floodTxs(t, victim, attacker, topic, 5000, func(i int) *ledger.Tx {
		return g.Transfer(ledgertest.DeterministicKey(1000+i), addr(keyA), ledger.Coin, 1000, 1) // a nonce gap of one
	})
	st := victim.svc.Stats()
	// A debt of MaxDelay at 10 a second: 10 shed, then refusals.
	if st.GossipShed != 10 || st.GossipRefused < 10 {
		t.Errorf("gossip budget: %d shed, %d refused; want 10 shed and at least 10 refused", st.GossipShed, st.GossipRefused)
	}
	if bans := victim.svc.Blocklist().List(); len(bans) != 1 || bans[0].Reason != "over its gossip budget" {
		t.Errorf("bans %+v; want the attacker, over its gossip budget", bans)
	}
}

func TestTxShares(t *testing.T) {
	sh := newTxShares(2)
	p := peer.ID("p")
	pool := map[ledger.Hash]bool{{1}: true, {2}: true}
	inPool := func(h ledger.Hash) bool { return pool[h] }
	sh.add(p, ledger.Hash{1})
	sh.add(p, ledger.Hash{2})
	if sh.room(p, inPool) {
		t.Fatal("room past the cap")
	}
	if !sh.room(peer.ID("q"), inPool) {
		t.Fatal("another peer shares the first one's cap")
	}
	delete(pool, ledger.Hash{1}) // mined
	if !sh.room(p, inPool) {
		t.Fatal("no room after one of the peer's transactions left the mempool")
	}
	sh.prune(inPool, func(peer.ID) bool { return false })
	if sh.count(p) != 0 {
		t.Fatal("a disconnected peer's share was kept")
	}
}
