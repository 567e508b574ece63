package ledger_test

import (
	"context"
	"testing"
	"time"

	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/ledger/miner"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func timeAfter(b *ledger.Block) time.Time { return time.UnixMilli(b.Header.Time + 1) }

// mine solves blk's header in place.
func mine(t testing.TB, p *ledger.Params, blk *ledger.Block) {
	t.Helper()
	ok, err := miner.Solve(context.Background(), &blk.Header, p, 0, 1, 0, nil)
	if !ok || err != nil {
		t.Fatalf("solve: %v", err)
	}
}

// templateMiner returns a function that builds c's next block with
// BlockTemplate, paying to, one block interval after the last (starting
// from genesis time), mines it for real and connects it.
func templateMiner(t testing.TB, c *ledger.Chain) func(to ledger.Address) *ledger.Block {
	p := c.Params()
	now := time.UnixMilli(p.GenesisTime)
	return func(to ledger.Address) *ledger.Block {
		t.Helper()
		now = now.Add(p.BlockInterval)
		blk, err := c.BlockTemplate(to, now)
		if err != nil {
			t.Fatal(err)
		}
		mine(t, p, blk)
		if res, err := c.ProcessBlock(blk, now); err != nil || res.Status != ledger.StatusMainChain {
			t.Fatalf("mined block: %s %v", res.Status, err)
		}
		return blk
	}
}
