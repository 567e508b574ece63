package netsync

import (
	"context"
	"errors"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"

	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/ledger/ledgertest"
	"github.com/myco-p2p/myco/ledger/miner"
)

// A node that joins after 2,000 blocks syncs all of them, with bodies
// coming from more than one peer.
func TestLateNodeSyncs2000Blocks(t *testing.T) {
	blocks := fixture(t)
	clock := newClock(afterFixture(t, fixtureLen))
	mn, sources := newNet(t, 3, netOpts{clock: clock, preload: fixtureLen})
	// Connected to all three before it starts: a round begun after the
	// first connection would fetch every body from that one peer.
	late := newNode(t, mn, 3, netOpts{clock: clock, peers: sources})
	want := blocks[fixtureLen-1].Hash()
	waitChains(t, []*node{late}, "the late node to reach block 2000", func() bool {
		return late.chain.Tip().Hash == want
	})
	if got := late.svc.Stats().BlocksReceived; got != fixtureLen {
		t.Errorf("blocks received = %d, want %d", got, fixtureLen)
	}
	serving := 0
	for _, s := range sources {
		if s.svc.Stats().BlocksServed > 0 {
			serving++
		}
	}
	if serving < 2 {
		t.Errorf("bodies came from %d peers, want at least 2", serving)
	}
}

// A transaction submitted at one node is mined by another and seen by all.
func TestTxMinedByAnotherNodeSeenByAll(t *testing.T) {
	clock := newClock(afterFixture(t, 3))
	_, nodes := newNet(t, 3, netOpts{clock: clock, preload: 3})
	waitGossip(t, nodes, 2)

	tx, err := nodes[0].chain.NewTransfer(keyA, addr(keyB), 7*ledger.Coin, 1000, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[0].chain.AddTx(tx); err != nil {
		t.Fatal(err)
	}
	if err := nodes[0].svc.BroadcastTx(tx); err != nil {
		t.Fatal(err)
	}
	mnr, err := miner.New(miner.Config{
		Chain:   nodes[2].chain,
		Address: addr(ledgertest.DeterministicKey(9)),
		Now:     clock.Now,
		OnBlock: func(b *ledger.Block, res ledger.ProcessResult, err error) {
			if err == nil && res.Status == ledger.StatusMainChain {
				nodes[2].svc.BroadcastBlock(b)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := mnr.Start(1); err != nil {
		t.Fatal(err)
	}
	defer mnr.Stop()
	waitChains(t, nodes, "the transaction on every chain", func() bool {
		for _, n := range nodes {
			if _, _, err := n.chain.FindTx(tx.ID()); err != nil {
				return false
			}
		}
		return true
	})
	mnr.Stop()
	loc, _, _ := nodes[1].chain.FindTx(tx.ID())
	info, err := nodes[1].chain.BlockByHash(loc.Block)
	if err != nil || info.Block.Txs[0].Recipient != addr(ledgertest.DeterministicKey(9)) {
		t.Errorf("the transaction is in block %s, not one mined by node 2 (%v)", loc.Block, err)
	}
	if got := nodes[2].svc.Stats().TxsReceived; got == 0 {
		t.Errorf("node 2 received no transaction over gossip")
	}
}

// Five nodes with two miners agree on one tip. After both miners stop,
// every node ends up knowing the same most work; two blocks of equal work
// at the same height are a tie that first-seen keeps apart (as in Bitcoin),
// so if one is left, one more block mined by one node settles it.
func TestFiveNodesTwoMinersAgree(t *testing.T) {
	clock := newClock(afterFixture(t, 3))
	_, nodes := newNet(t, 5, netOpts{clock: clock, preload: 3})
	waitGossip(t, nodes, 4)
	miners := make([]*miner.Miner, 2)
	for i := range miners {
		n := nodes[i*2]
		m, err := miner.New(miner.Config{
			Chain:   n.chain,
			Address: addr(ledgertest.DeterministicKey(10 + i)),
			Now:     clock.Now,
			OnBlock: func(b *ledger.Block, res ledger.ProcessResult, err error) {
				if err == nil && res.Status == ledger.StatusMainChain {
					n.svc.BroadcastBlock(b)
				}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		miners[i] = m
		defer m.Stop()
		if err := m.Start(1); err != nil {
			t.Fatal(err)
		}
	}
	waitChains(t, nodes, "every node past height 25", func() bool {
		for _, n := range nodes {
			if n.chain.Tip().Height < 25 {
				return false
			}
		}
		return true
	})
	for _, m := range miners {
		m.Stop()
	}
	waitChains(t, nodes, "the same most work on all five nodes", func() bool {
		w := nodes[0].chain.Tip().Work
		for _, n := range nodes[1:] {
			if n.chain.Tip().Work.Cmp(w) != 0 {
				return false
			}
		}
		return true
	})
	if !sameTip(nodes) {
		t.Log("a tie at the tip; one more block settles it")
		mine(t, nodes[0], addr(ledgertest.DeterministicKey(10)), clock.Now())
	}
	waitChains(t, nodes, "one tip on all five nodes", func() bool { return sameTip(nodes) })
	for _, m := range miners {
		if m.Status().Blocks == 0 {
			t.Errorf("a miner found no block on the main chain")
		}
	}
	want, _ := nodes[0].chain.Accounts()
	for i, n := range nodes[1:] {
		got, _ := n.chain.Accounts()
		if len(got) != len(want) {
			t.Fatalf("node %d holds %d accounts, node 0 %d", i+1, len(got), len(want))
		}
		for a, acc := range want {
			if got[a] != acc {
				t.Errorf("node %d: account %x is %+v, node 0 has %+v", i+1, a, got[a], acc)
			}
		}
	}
}

// A partition into two halves that both mine, then heals: every node ends
// on the branch with more work, the losing branch's transactions are back
// in mempools or mined again, and no double spend survives.
//
// The halves start apart rather than being cut apart: mocknet tears a
// connection down by resetting its streams before it forgets the
// connection, so pubsub, seeing its stream die while the peer still looks
// connected, opens a new one on the dying connection, and that stream
// outlives the cut: blocks leak across it.
func TestPartitionHeals(t *testing.T) {
	clock := newClock(afterFixture(t, 3))
	mn := mocknet.New()
	t.Cleanup(func() { mn.Close() })
	nodes := make([]*node, 4)
	for i := range nodes {
		nodes[i] = newNode(t, mn, i, netOpts{clock: clock, preload: 3})
	}
	left, right := nodes[:2], nodes[2:]
	for _, half := range [][]*node{left, right} {
		connect(t, mn, half[0], half[1])
		waitGossip(t, half, 1)
	}
	dest := addr(ledgertest.DeterministicKey(20))
	other := addr(ledgertest.DeterministicKey(21))
	now := clock.Now()

	// Left: keyA pays dest (nonce 0) and keyB pays dest; two blocks.
	spendA, _ := left[0].chain.NewTransfer(keyA, dest, 3*ledger.Coin, 500, nil)
	spendB, _ := left[0].chain.NewTransfer(keyB, dest, 2*ledger.Coin, 500, nil)
	for _, tx := range []*ledger.Tx{spendA, spendB} {
		if _, err := left[0].chain.AddTx(tx); err != nil {
			t.Fatal(err)
		}
	}
	mine(t, left[0], addr(ledgertest.DeterministicKey(30)), now)
	leftTip := mine(t, left[0], addr(ledgertest.DeterministicKey(30)), now).Hash()

	// Right: keyA spends the same nonce elsewhere (a double spend of
	// spendA); four blocks, so more work.
	double, _ := right[0].chain.NewTransfer(keyA, other, 4*ledger.Coin, 500, nil)
	if double.Nonce != spendA.Nonce {
		t.Fatalf("nonces %d and %d: not a double spend", double.Nonce, spendA.Nonce)
	}
	if _, err := right[0].chain.AddTx(double); err != nil {
		t.Fatal(err)
	}
	var rightTip ledger.Hash
	for range 4 {
		rightTip = mine(t, right[0], addr(ledgertest.DeterministicKey(31)), now).Hash()
	}
	waitChains(t, nodes, "each half on its own branch", func() bool {
		return left[1].chain.Tip().Hash == leftTip && right[1].chain.Tip().Hash == rightTip
	})
	if right[0].chain.Tip().Work.Cmp(left[0].chain.Tip().Work) <= 0 {
		t.Fatal("the right branch should carry more work")
	}

	// Heal.
	for _, a := range left {
		for _, b := range right {
			connect(t, mn, a, b)
		}
	}
	waitChains(t, nodes, "every node on the right branch", func() bool {
		for _, n := range nodes {
			if n.chain.Tip().Hash != rightTip {
				return false
			}
		}
		return true
	})
	for i, n := range nodes {
		if _, _, err := n.chain.FindTx(double.ID()); err != nil {
			t.Errorf("node %d: the winning spend is not on the chain: %v", i, err)
		}
		if _, _, err := n.chain.FindTx(spendA.ID()); !errors.Is(err, ledger.ErrUnknownTx) {
			t.Errorf("node %d: the double spend survived on the chain", i)
		}
		if n.chain.HasTx(spendA.ID()) {
			t.Errorf("node %d: the double spend is still in the mempool", i)
		}
		_, _, err := n.chain.FindTx(spendB.ID())
		if i < 2 && err != nil && !n.chain.HasTx(spendB.ID()) {
			t.Errorf("node %d: the losing branch's other transaction is neither mined nor pending", i)
		}
	}
	// The returned transaction was announced again, so the right half
	// has it pending too and can mine it.
	waitChains(t, nodes, "the returned transaction mined on the merged chain", func() bool {
		if !right[0].chain.HasTx(spendB.ID()) {
			return false
		}
		return true
	})
	blk := mine(t, right[0], addr(ledgertest.DeterministicKey(31)), clock.Now())
	waitChains(t, nodes, "the returned transaction mined on every chain", func() bool {
		for _, n := range nodes {
			if n.chain.Tip().Hash != blk.Hash() {
				return false
			}
		}
		return true
	})
	for i, n := range nodes {
		if _, _, err := n.chain.FindTx(spendB.ID()); err != nil {
			t.Errorf("node %d: returned transaction not mined: %v", i, err)
		}
		acc, _ := n.chain.Account(addr(keyA))
		if acc.Nonce != 1 {
			t.Errorf("node %d: keyA's nonce is %d, want 1 (one spend)", i, acc.Nonce)
		}
	}
}

// A peer that sends invalid blocks (over gossip) and invalid headers (over
// sync) is penalised and banned, and does not stop the others from syncing.
func TestInvalidPeerBannedOthersSync(t *testing.T) {
	const height = 50
	blocks := fixture(t)
	clock := newClock(afterFixture(t, height))
	mn, honest := newNet(t, 2, netOpts{clock: clock, preload: height})
	late := newNode(t, mn, 2, netOpts{clock: clock})

	bad, err := mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	// The bad peer answers every sync request with headers whose proof
	// of work is broken.
	bad.SetStreamHandler(ChainProtocol, func(str network.Stream) {
		defer str.Close()
		if _, err := readFrame(str, maxRequestSize); err != nil {
			str.Reset()
			return
		}
		var hdrs []ledger.Header
		for _, b := range blocks[:10] {
			h := b.Header
			h.Nonce++
			hdrs = append(hdrs, h)
		}
		writeFrame(str, &message{Type: msgHeaders, Headers: hdrs})
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch := newPeerWatch()
	ps, err := pubsub.NewGossipSub(ctx, bad, pubsub.WithFloodPublish(true), pubsub.WithRawTracer(watch))
	if err != nil {
		t.Fatal(err)
	}
	topic, err := ps.Join(BlocksTopic(ledger.NetworkDev))
	if err != nil {
		t.Fatal(err)
	}
	defer topic.Close()
	sub, err := topic.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Cancel()

	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	for _, h := range []*node{honest[0], honest[1], late} {
		if _, err := mn.ConnectPeers(bad.ID(), h.h.ID()); err != nil {
			t.Fatal(err)
		}
	}
	// The bad peer publishes to the topic peers it has a stream to; wait
	// for all three.
	waitCtx, waitCancel := context.WithTimeout(ctx, hangGuard)
	defer waitCancel()
	if err := watch.wait(waitCtx, func() bool { return len(topic.ListPeers()) >= 3 }); err != nil {
		t.Fatalf("the bad peer's topic peers: %d: %v", len(topic.ListPeers()), err)
	}
	badPoW := ledgertest.New(ledger.NetworkDev.Params(), 0).NextBlock("bad", "genesis", nil, ledgertest.Opts{BadPoW: true})
	for _, data := range [][]byte{[]byte("not a block"), badPoW.Encode(), []byte("still not a block")} {
		if err := topic.Publish(ctx, data); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case p := <-late.bans:
		if p != bad.ID() {
			t.Fatalf("banned %s, want the bad peer %s", p, bad.ID())
		}
	case <-time.After(hangGuard):
		t.Fatalf("the bad peer was not banned; stats %+v", late.svc.Stats())
	}

	// The late node still syncs from the honest ones, and the honest ones
	// connect to each other and late.
	for _, h := range honest {
		if _, err := mn.ConnectPeers(late.h.ID(), h.h.ID()); err != nil {
			t.Fatal(err)
		}
	}
	want := blocks[height-1].Hash()
	waitChains(t, []*node{late}, "the late node synced past the bad peer", func() bool {
		return late.chain.Tip().Hash == want
	})
	st := late.svc.Stats()
	if st.InvalidMessages < 2 || st.Banned != 1 {
		t.Errorf("stats %+v: want at least 2 invalid messages and 1 banned peer", st)
	}
	if !late.svc.Blocklist().Banned(bad.ID()) {
		t.Error("the bad peer is not on the blocklist")
	}
	if !waitDisconnected(late.h, bad.ID()) {
		t.Error("the bad peer is still connected")
	}
	// The ban lasts BanDuration on the injected clock, then expires.
	clock.Set(clock.Now().Add(time.Hour + time.Second))
	if late.svc.Blocklist().Banned(bad.ID()) {
		t.Error("the ban did not expire")
	}
}
