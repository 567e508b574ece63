package ledger_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/myco-p2p/myco/internal/forkjoin"
	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/ledger/ledgertest"
)

// closeBench is a chain prefix with n open channels, the payees' closes of
// them, a block without them and the solved block that takes them.
type closeBench struct {
	p      *ledger.Params
	prefix []*ledger.Block // funds the payer, opens the channels
	closes []*ledger.Tx
	empty  *ledger.Block // a block mined while the closes are pending
	full   *ledger.Block // the template that takes them, solved
	miner  ledger.Address
}

// newCloseBench builds the blocks and transactions of a closeBench on a
// chain of its own (templateMiner's clock is fixed, so every replay is
// identical).
func newCloseBench(tb testing.TB, n int) *closeBench {
	p := ledger.NetworkDev.Params()
	c, _ := openMem(tb, p, ledger.MempoolConfig{})
	defer c.Close()
	payer := ledgertest.DeterministicKey(1000)
	cb := &closeBench{p: p, miner: ledgertest.Addr(ledgertest.DeterministicKey(1001))}
	mineTo := templateMiner(tb, c)
	cb.prefix = append(cb.prefix, mineTo(ledgertest.Addr(payer)))
	deposit := p.Subsidy(1) / uint64(2*n)
	var opens []*ledger.Tx
	for i := range n {
		open, err := c.NewChannelOpen(payer, ledgertest.Addr(ledgertest.DeterministicKey(2000+i)), deposit, 1000, 10)
		if err == nil {
			_, err = c.AddTx(open)
		}
		if err != nil {
			tb.Fatal(err)
		}
		opens = append(opens, open)
	}
	cb.prefix = append(cb.prefix, mineTo(cb.miner))
	for i, open := range opens {
		payee := ledgertest.DeterministicKey(2000 + i)
		v, err := ledger.SignVoucher(payer, p.ChainID, open.ID(), deposit/2)
		if err != nil {
			tb.Fatal(err)
		}
		cl, err := c.NewChannelClose(payee, v, 10)
		if err != nil {
			tb.Fatal(err)
		}
		cb.closes = append(cb.closes, cl)
	}
	cb.empty = mineTo(cb.miner)
	for _, cl := range cb.closes {
		if _, err := c.AddTx(cl); err != nil {
			tb.Fatal(err)
		}
	}
	cb.full = mineTo(cb.miner)
	if len(cb.full.Txs) != n+1 {
		tb.Fatalf("the template holds %d transactions, want the %d closes and a coinbase", len(cb.full.Txs), n)
	}
	return cb
}

// run takes the closes from c's mempool into a block (c holds the
// prefix), calling after, when set, at the end of each stage.
func (cb *closeBench) run(tb testing.TB, c *ledger.Chain, after func(stage string)) {
	tb.Helper()
	if after == nil {
		after = func(string) {}
	}
	for _, cl := range cb.closes {
		if _, err := c.AddTx(cl); err != nil {
			tb.Fatal(err)
		}
	}
	after("mempool")
	if res, err := c.ProcessBlock(cb.empty, timeAfter(cb.empty)); err != nil || res.Status != ledger.StatusMainChain {
		tb.Fatalf("block without the closes: %s %v", res.Status, err)
	}
	if st := c.MempoolStats(); st.Txs != len(cb.closes) {
		tb.Fatalf("%d closes pending after a block without them, want %d", st.Txs, len(cb.closes))
	}
	after("mempool re-checked")
	blk, err := c.BlockTemplate(cb.miner, time.UnixMilli(cb.full.Header.Time))
	if err != nil {
		tb.Fatal(err)
	}
	after("template")
	blk.Header.Nonce = cb.full.Header.Nonce // the same template, already solved
	if blk.Hash() != cb.full.Hash() {
		tb.Fatalf("the template differs from the solved one")
	}
	if res, err := c.ProcessBlock(blk, timeAfter(blk)); err != nil || res.Status != ledger.StatusMainChain {
		tb.Fatalf("block with the closes: %s %v", res.Status, err)
	}
	after("connected")
}

// replay opens a chain (cfg's Params and Store are set here) and connects
// the prefix.
func (cb *closeBench) replay(tb testing.TB, cfg ledger.Config) *ledger.Chain {
	tb.Helper()
	cfg.Params, cfg.Store = cb.p, ledger.NewMemStore()
	c, err := ledger.OpenChain(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	for _, blk := range cb.prefix {
		if res, err := c.ProcessBlock(blk, timeAfter(blk)); err != nil || res.Status != ledger.StatusMainChain {
			tb.Fatalf("prefix block %d: %s %v", blk.Header.Height, res.Status, err)
		}
	}
	return c
}

// TestCloseVerifiedOnce counts the BIP-340 verifications of n channel
// closes on their way from the mempool into a block: with the signature
// cache, each close's transaction signature and voucher are verified once,
// when they enter the mempool; re-checking the mempool after a block, the
// template and the connecting block answer from the cache, and the block
// spends the entries. Without the cache every stage verifies the voucher
// again (and the block the transaction's signature too).
func TestCloseVerifiedOnce(t *testing.T) {
	const n = 3
	cb := newCloseBench(t, n)
	for _, tc := range []struct {
		name string
		size int
		want map[string]uint64 // verifications in each stage
	}{
		{"cached", 0, map[string]uint64{"mempool": 2 * n, "mempool re-checked": 0, "template": 0, "connected": 0}},
		{"uncached", -1, map[string]uint64{"mempool": 2 * n, "mempool re-checked": n, "template": n, "connected": 2 * n}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cb.replay(t, ledger.Config{Parallel: forkjoin.New(2), SigCacheSize: tc.size})
			defer c.Close()
			start := c.SigCacheStats()
			last := start
			cb.run(t, c, func(stage string) {
				st := c.SigCacheStats()
				if got := st.Verified - last.Verified; got != tc.want[stage] {
					t.Errorf("%s: %d verifications, want %d", stage, got, tc.want[stage])
				}
				last = st
			})
			if last.Entries != start.Entries {
				t.Errorf("the cache holds %d entries after the block, %d before the closes: the block did not spend them", last.Entries, start.Entries)
			}
			for _, cl := range cb.closes {
				pl, err := ledger.DecodeChannelPayload(cl.Kind, cl.Payload)
				if err != nil {
					t.Fatal(err)
				}
				if ch, err := c.Channel(pl.Channel); err != nil || ch.State != ledger.ChannelClosed || ch.Paid != pl.Voucher.Amount {
					t.Fatalf("channel after its close: %+v %v", ch, err)
				}
			}
		})
	}
}

// BenchmarkChannelCloses measures the mempool-to-block path of n channel
// closes, as a daemon runs it: the payees' closes enter the mempool, a
// block without them connects (the mempool re-checks what is pending), a
// block template takes them and its block connects. Opening the chain
// with the channels and the proof of work are outside the timer.
func BenchmarkChannelCloses(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("closes=%d", n), func(b *testing.B) {
			cb := newCloseBench(b, n)
			for range b.N {
				b.StopTimer()
				c := cb.replay(b, ledger.Config{Parallel: forkjoin.New(2)})
				b.StartTimer()
				cb.run(b, c, nil)
				b.StopTimer()
				c.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "closes/s")
		})
	}
}
