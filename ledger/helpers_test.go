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
