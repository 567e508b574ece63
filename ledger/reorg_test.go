package ledger_test

import (
	"maps"
	"testing"
	"time"

	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/ledger/ledgertest"
)

// feed processes the named blocks in order and fails on any error.
func feed(t testing.TB, c *ledger.Chain, g *ledgertest.Generator, names ...string) ledger.ProcessResult {
	t.Helper()
	var res ledger.ProcessResult
	for _, n := range names {
		b := g.Block(n)
		var err error
		res, err = c.ProcessBlock(b, time.UnixMilli(b.Header.Time))
		if err != nil {
			t.Fatalf("block %s: %v", n, err)
		}
	}
	return res
}

// replay builds a fresh chain from the named blocks and returns its state.
func replay(t testing.TB, g *ledgertest.Generator, names []string) (map[ledger.Address]ledger.Account, ledger.TipInfo) {
	t.Helper()
	c, _ := openMem(t, g.P, ledger.MempoolConfig{})
	defer c.Close()
	feed(t, c, g, names...)
	return ledgertest.Accounts(t, c), c.Tip()
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestReorgDepths(t *testing.T) {
	for _, depth := range []int{1, 10, 100} {
		t.Run("depth-"+itoa(depth), func(t *testing.T) {
			br := ledgertest.BuildBranches(depth)
			g := br.G
			c, _ := openMem(t, g.P, ledger.MempoolConfig{})
			defer c.Close()
			feed(t, c, g, br.Base...)
			feed(t, c, g, br.A...)
			if tip := g.Name(c.Tip().Hash); tip != br.A[len(br.A)-1] {
				t.Fatalf("tip %s after branch a", tip)
			}
			// All of b but its last block ties or trails a: side chain.
			for _, n := range br.B[:depth] {
				res := feed(t, c, g, n)
				if res.Status != ledger.StatusSideChain {
					t.Fatalf("%s: status %s, want side-chain", n, res.Status)
				}
			}
			last := br.B[depth]
			res := feed(t, c, g, last)
			if res.Status != ledger.StatusMainChain || !res.TipChanged {
				t.Fatalf("%s: status %s, tip changed %v", last, res.Status, res.TipChanged)
			}
			if len(res.Disconnected) != depth || len(res.Connected) != depth+1 {
				t.Fatalf("reorg disconnected %d and connected %d, want %d and %d", len(res.Disconnected), len(res.Connected), depth, depth+1)
			}

			// The state equals replaying the winning chain from genesis.
			want, wantTip := replay(t, g, append(append([]string{}, br.Base...), br.B...))
			if got := ledgertest.Accounts(t, c); !maps.Equal(got, want) {
				t.Fatalf("state after reorg differs from replaying branch b")
			}
			if !maps.Equal(want, g.State(last)) {
				t.Fatalf("replayed state differs from the model")
			}
			if tip := c.Tip(); tip.Hash != wantTip.Hash || tip.Work.Cmp(wantTip.Work) != 0 {
				t.Fatalf("tip %s work %s, replay has %s work %s", tip.Hash, tip.Work, wantTip.Hash, wantTip.Work)
			}

			// Mempool: a's double spends of key 0 are gone, a's key 1
			// transfer (valid on b too) is back.
			pending := c.MempoolTxs()
			if len(pending) != 1 || pending[0].ID() != br.ReturnedTx {
				t.Fatalf("mempool after reorg holds %d txs, want only the returned key 1 transfer", len(pending))
			}

			// Undo works both ways: grow a past b and the state is a's again.
			par := br.A[len(br.A)-1]
			extra := []string{"a-x1", "a-x2"}
			for _, n := range extra {
				g.NextBlock(n, par, nil, ledgertest.Opts{})
				par = n
			}
			feed(t, c, g, extra...)
			aChain := append(append(append([]string{}, br.Base...), br.A...), extra...)
			wantA, _ := replay(t, g, aChain)
			if got := ledgertest.Accounts(t, c); !maps.Equal(got, wantA) || !maps.Equal(got, g.State("a-x2")) {
				t.Fatalf("state after reorg back to a differs from replaying a")
			}
			// b's last key 0 spend has no rival on a: it is pending again.
			bLast := g.Block(br.B[depth]).Txs[1].ID()
			if pending := c.MempoolTxs(); len(pending) != 1 || pending[0].ID() != bLast {
				t.Fatalf("mempool after reorg back holds %d txs, want b's last transfer", len(pending))
			}
			// Every main-chain block is reachable by height.
			for h := uint64(0); h <= c.Tip().Height; h++ {
				info, err := c.BlockByHeight(h)
				if err != nil || !info.MainChain {
					t.Fatalf("height %d: %v (main %v)", h, err, info.MainChain)
				}
			}
		})
	}
}

// A heavier branch with an invalid block in its middle is refused: the
// state and tip stay exactly as they were, and the invalid block's
// descendants are refused too.
func TestReorgToInvalidBranchRefused(t *testing.T) {
	br := ledgertest.BuildBranches(10)
	g := br.G
	c, _ := openMem(t, g.P, ledger.MempoolConfig{})
	defer c.Close()
	feed(t, c, g, br.Base...)
	feed(t, c, g, br.A...)
	before := ledgertest.Accounts(t, c)
	tipBefore := c.Tip()

	// Branch c: 5 good blocks, one overspend, then 10 more (more work than a).
	par := br.Base[len(br.Base)-1]
	var names []string
	for i := range 16 {
		name := "c" + itoa(i)
		var txs []*ledger.Tx
		if i == 5 {
			txs = []*ledger.Tx{g.Transfer(g.Keys[3], ledgertest.Addr(g.Keys[2]), 1000*ledger.Coin, 1, 0)}
		}
		g.NextBlock(name, par, txs, ledgertest.Opts{})
		names = append(names, name)
		par = name
	}
	for i, n := range names {
		b := g.Block(n)
		res, err := c.ProcessBlock(b, time.UnixMilli(b.Header.Time))
		switch {
		case i <= 9: // not more work than a yet: stored unvalidated on a side branch
			if err != nil || res.Status != ledger.StatusSideChain {
				t.Fatalf("%s: %s %v, want side-chain", n, res.Status, err)
			}
		case i <= 11: // c10 outweighs a: the reorg finds c5 invalid; c11 builds on it
			if ledgertest.RuleCode(err) != ledger.ErrInvalidAncestor {
				t.Fatalf("%s: %v, want ErrInvalidAncestor", n, err)
			}
		default: // c12 on: their parent was refused, so they are orphans
			if err != nil || res.Status != ledger.StatusOrphan {
				t.Fatalf("%s: %s %v, want orphan", n, res.Status, err)
			}
		}
	}
	if tip := c.Tip(); tip.Hash != tipBefore.Hash {
		t.Fatalf("tip moved to %s", g.Name(tip.Hash))
	}
	if !maps.Equal(ledgertest.Accounts(t, c), before) {
		t.Fatal("state changed")
	}
	// A new block on the stored part of the invalid branch is refused at once.
	g.NextBlock("c-next", "c9", nil, ledgertest.Opts{})
	_, err := c.ProcessBlock(g.Block("c-next"), time.UnixMilli(g.Block("c-next").Header.Time))
	if code := ledgertest.RuleCode(err); code != ledger.ErrInvalidAncestor {
		t.Fatalf("child of invalid branch: %v, want ErrInvalidAncestor", err)
	}
	// The valid prefix c0-c4 stays usable: a branch growing from c4 with
	// more work than a wins.
	par = "c4"
	var good []string
	for i := range 7 {
		name := "d" + itoa(i)
		g.NextBlock(name, par, nil, ledgertest.Opts{})
		good = append(good, name)
		par = name
	}
	feed(t, c, g, good...)
	if got := g.Name(c.Tip().Hash); got != "d6" {
		t.Fatalf("tip %s, want d6", got)
	}
	if !maps.Equal(ledgertest.Accounts(t, c), g.State("d6")) {
		t.Fatal("state at d6 differs from the model")
	}
}
