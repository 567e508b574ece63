package ledger_test

import (
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/ledger/ledgertest"
)

// fundedChain returns a chain where keys 0..n-1 each received one coinbase.
func fundedChain(t testing.TB, n int, mp ledger.MempoolConfig) (*ledger.Chain, *ledgertest.Generator, string) {
	t.Helper()
	g := ledgertest.New(ledger.NetworkDev.Params(), n)
	c, _ := openMem(t, g.P, mp)
	parent := "genesis"
	for i := range n {
		name := "f" + itoa(i)
		to := ledgertest.Addr(g.Keys[i])
		g.NextBlock(name, parent, nil, ledgertest.Opts{PayTo: &to})
		feed(t, c, g, name)
		parent = name
	}
	return c, g, parent
}

func TestMempoolEvictionAndPriority(t *testing.T) {
	c, g, tip := fundedChain(t, 5, ledger.MempoolConfig{MaxTxs: 3})
	defer c.Close()
	k := g.Keys
	to := ledgertest.Addr(k[4])
	send := func(from *btcec.PrivateKey, fee, nonce uint64) *ledger.Tx {
		return g.Transfer(from, to, ledger.Coin, fee, nonce)
	}
	for i, fee := range []uint64{10, 30, 20} {
		if _, err := c.AddTx(send(k[i], fee, 0)); err != nil {
			t.Fatal(err)
		}
	}
	// Full: a transaction paying less than everything is refused.
	if _, err := c.AddTx(send(k[3], 5, 0)); ledgertest.RuleCode(err) != ledger.ErrMempoolFull {
		t.Fatalf("low fee into a full pool: %v, want ErrMempoolFull", err)
	}
	// One paying more evicts the lowest (fee 10).
	rich := send(k[3], 40, 0)
	if _, err := c.AddTx(rich); err != nil {
		t.Fatal(err)
	}
	if c.HasTx(send(k[0], 10, 0).ID()) || c.MempoolStats().Txs != 3 {
		t.Fatalf("the fee-10 transaction was not evicted")
	}
	// A sender's next nonce counts its pending transactions.
	if n, _ := c.NextNonce(ledgertest.Addr(k[3])); n != 1 {
		t.Fatalf("next nonce %d, want 1", n)
	}
	// Order: highest fee first.
	var fees []uint64
	for _, tx := range c.MempoolTxs() {
		fees = append(fees, tx.Fee)
	}
	if len(fees) != 3 || fees[0] != 40 || fees[1] != 30 || fees[2] != 20 {
		t.Fatalf("priority order %v, want [40 30 20]", fees)
	}
	// A template takes them all, and its block empties the pool.
	tmpl, err := c.BlockTemplate(ledgertest.Addr(g.Miner), timeAfter(g.Block(tip)))
	if err != nil {
		t.Fatal(err)
	}
	if len(tmpl.Txs) != 4 || tmpl.Txs[0].Amount != g.P.Subsidy(tmpl.Header.Height)+90 {
		t.Fatalf("template has %d txs, coinbase %d", len(tmpl.Txs), tmpl.Txs[0].Amount)
	}
}

func TestMempoolNonceOrderWithinSender(t *testing.T) {
	c, g, tip := fundedChain(t, 2, ledger.MempoolConfig{})
	defer c.Close()
	k := g.Keys
	to := ledgertest.Addr(k[1])
	// Nonce 0 pays little, nonce 1 a lot: nonce 0 must still come first.
	low := g.Transfer(k[0], to, ledger.Coin, 1, 0)
	high := g.Transfer(k[0], to, ledger.Coin, 1000, 1)
	other := g.Transfer(k[1], ledgertest.Addr(k[0]), ledger.Coin, 50, 0)
	for _, tx := range []*ledger.Tx{low, high, other} {
		if _, err := c.AddTx(tx); err != nil {
			t.Fatal(err)
		}
	}
	got := c.MempoolTxs()
	if len(got) != 3 || got[0] != other || got[1] != low || got[2] != high {
		t.Fatalf("order wrong: fees %d %d %d", got[0].Fee, got[1].Fee, got[2].Fee)
	}
	// Built with NewTransfer, the nonce follows the pending ones.
	tx, err := c.NewTransfer(k[0], to, 5, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tx.Nonce != 2 {
		t.Fatalf("NewTransfer nonce %d, want 2", tx.Nonce)
	}
	if _, err := c.AddTx(tx); err != nil {
		t.Fatal(err)
	}
	// Mining the template connects them all in order.
	blk, err := c.BlockTemplate(ledgertest.Addr(g.Miner), timeAfter(g.Block(tip)))
	if err != nil {
		t.Fatal(err)
	}
	mine(t, g.P, blk)
	if _, err := c.ProcessBlock(blk, timeAfter(blk)); err != nil {
		t.Fatal(err)
	}
	if acc, _ := c.Account(ledgertest.Addr(k[0])); acc.Nonce != 3 {
		t.Fatalf("sender nonce %d after the block, want 3", acc.Nonce)
	}
	if c.MempoolStats().Txs != 0 {
		t.Fatalf("mempool holds %d after the block", c.MempoolStats().Txs)
	}
}

func TestOrphanPoolBounded(t *testing.T) {
	g := ledgertest.New(ledger.NetworkDev.Params(), 1)
	c, err := ledger.OpenChain(ledger.Config{Params: g.P, Store: ledger.NewMemStore(), MaxOrphans: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	parent := "genesis"
	var names []string
	for i := range 6 {
		name := "o" + itoa(i)
		g.NextBlock(name, parent, nil, ledgertest.Opts{})
		names = append(names, name)
		parent = name
	}
	// Deliver o5..o1 (all orphans); only the 3 newest stay.
	for i := 5; i >= 1; i-- {
		res := feed(t, c, g, names[i])
		if res.Status != ledger.StatusOrphan {
			t.Fatalf("%s: %s, want orphan", names[i], res.Status)
		}
	}
	if n := c.OrphanCount(); n != 3 {
		t.Fatalf("orphan pool holds %d, want 3", n)
	}
	// o0 adopts o1, o2, o3 (kept); o4 and o5 were evicted.
	res := feed(t, c, g, "o0")
	if !res.TipChanged || len(res.Connected) != 4 {
		t.Fatalf("adopted %d blocks, want 4", len(res.Connected))
	}
	if got := g.Name(c.Tip().Hash); got != "o3" {
		t.Fatalf("tip %s, want o3", got)
	}
	if c.OrphanCount() != 0 {
		t.Fatalf("orphans left: %d", c.OrphanCount())
	}
}
