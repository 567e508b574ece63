package netsync

import (
	"context"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/ledger/ledgertest"
)

// A peer relaying validly signed transactions from unfunded keys is
// scored for each and, past the threshold, banned and disconnected.
func TestUnfundedTxFloodBanned(t *testing.T) {
	clock := newClock(afterFixture(t, 3))
	mn, nodes := newNet(t, 1, netOpts{clock: clock, preload: 3})
	victim := nodes[0]
	attacker, err := mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
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
	defer topic.Close()
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
	g := ledgertest.New(ledger.NetworkDev.Params(), 7)
	// 2 points each: banned at the 50th that the victim validates (pubsub
	// drops what its queues cannot take, so the flood goes on until then).
	const flood = 5000
	for i := range flood {
		k := ledgertest.DeterministicKey(1000 + i) // unfunded
		tx := g.Transfer(k, addr(keyA), ledger.Coin, 1000, 0)
		if err := topic.Publish(ctx, tx.Encode()); err != nil {
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
		t.Fatalf("the unfunded-transaction flooder was not banned; stats %+v", victim.svc.Stats())
	}
	if victim.h.Network().Connectedness(attacker.ID()) == network.Connected {
		t.Error("the banned flooder is still connected")
	}
	if n := victim.chain.MempoolStats().Txs; n != 0 {
		t.Errorf("%d unfunded transactions in the mempool", n)
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
