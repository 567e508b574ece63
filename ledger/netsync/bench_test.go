package netsync

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/ledger/ledgertest"
	"github.com/myco-p2p/myco/ledger/miner"
)

// BenchmarkSyncVsLocal measures, in the same run, how fast a late node
// syncs n blocks from three mocknet peers (headers first, bodies in
// parallel) and how fast the same node connects the same blocks locally
// with ProcessBlock; sync/local is the ratio (target at least 0.5).
func BenchmarkSyncVsLocal(b *testing.B) {
	for _, n := range []int{500, fixtureLen} {
		b.Run(fmt.Sprintf("blocks=%d", n), func(b *testing.B) {
			blocks := fixture(b)[:n]
			clock := newClock(afterFixture(b, n))
			mn, sources := newNet(b, 3, netOpts{clock: clock, preload: n})
			var size int64
			for _, blk := range blocks {
				size += int64(blk.Size())
			}
			b.SetBytes(size)
			var local, synced time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				local += connectLocally(b, clock, blocks)
				synced += syncLate(b, mn, sources, clock, i, blocks[n-1].Hash())
			}
			localRate := float64(n*b.N) / local.Seconds()
			syncRate := float64(n*b.N) / synced.Seconds()
			b.ReportMetric(localRate, "local-blocks/s")
			b.ReportMetric(syncRate, "sync-blocks/s")
			b.ReportMetric(syncRate/localRate, "sync/local")
		})
	}
}

func connectLocally(b *testing.B, clock *fakeClock, blocks []*ledger.Block) time.Duration {
	c, err := ledger.OpenChain(ledger.Config{Params: ledger.NetworkDev.Params(), Store: ledger.NewMemStore()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	for _, blk := range blocks {
		if _, err := c.ProcessBlock(blk, clock.Now()); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

// syncLate starts a fresh node, connects it to the sources and times until
// its tip is want.
func syncLate(b *testing.B, mn mocknet.Mocknet, sources []*node, clock *fakeClock, i int, want ledger.Hash) time.Duration {
	h, err := mn.GenPeer()
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	c, err := ledger.OpenChain(ledger.Config{Params: ledger.NetworkDev.Params(), Store: ledger.NewMemStore()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	svc, err := New(h, c, Config{Logger: testLogger(b, slog.LevelWarn).With("late", i), Now: clock.Now, Ticks: make(chan time.Time)})
	if err != nil {
		b.Fatal(err)
	}
	if err := svc.Start(); err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	late := &node{h: h, chain: c, svc: svc, wake: make(chan struct{})}
	start := time.Now()
	for _, s := range sources {
		if _, err := mn.LinkPeers(h.ID(), s.h.ID()); err != nil {
			b.Fatal(err)
		}
		if _, err := mn.ConnectPeers(h.ID(), s.h.ID()); err != nil {
			b.Fatal(err)
		}
	}
	waitChains(b, []*node{late}, "the late node synced", func() bool { return c.Tip().Hash == want })
	return time.Since(start)
}

// BenchmarkPropagation8 measures how long a block takes from the miner's
// broadcast to the tip of every one of 8 mocknet nodes, each connected to
// four others (a ring with chords), so most nodes hear it through a relay.
func BenchmarkPropagation8(b *testing.B) {
	const k = 8
	clock := newClock(afterFixture(b, 3))
	mn := mocknet.New()
	b.Cleanup(func() { mn.Close() })
	nodes := make([]*node, k)
	for i := range nodes {
		nodes[i] = newNode(b, mn, i, netOpts{clock: clock, preload: 3})
	}
	for i := range nodes {
		for _, d := range []int{1, 2} {
			j := (i + d) % k
			if _, err := mn.LinkPeers(nodes[i].h.ID(), nodes[j].h.ID()); err != nil {
				b.Fatal(err)
			}
			if _, err := mn.ConnectPeers(nodes[i].h.ID(), nodes[j].h.ID()); err != nil {
				b.Fatal(err)
			}
		}
	}
	waitGossip(b, nodes, 4)
	payTo := addr(ledgertest.DeterministicKey(40))
	round := func(i int) time.Duration {
		src := nodes[i%k]
		clock.Set(clock.Now().Add(time.Second)) // blocks on schedule keep the difficulty
		blk, err := src.chain.BlockTemplate(payTo, clock.Now())
		if err != nil {
			b.Fatal(err)
		}
		if ok, err := miner.Solve(b.Context(), &blk.Header, src.chain.Params(), 0, 1, 0, nil); !ok || err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := src.chain.ProcessBlock(blk, clock.Now()); err != nil {
			b.Fatal(err)
		}
		if err := src.svc.BroadcastBlock(blk); err != nil {
			b.Fatal(err)
		}
		want := blk.Hash()
		waitChains(b, nodes, "the block on every node", func() bool {
			for _, n := range nodes {
				if n.chain.Tip().Hash != want {
					return false
				}
			}
			return true
		})
		return time.Since(start)
	}
	round(0) // the mesh forms on the first heartbeats
	var total, worst time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d := round(i + 1)
		total += d
		worst = max(worst, d)
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/block-to-all")
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
}
