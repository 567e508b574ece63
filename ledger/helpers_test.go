package ledger_test

import (
	"errors"
	"testing"
	"time"

	"github.com/myco-p2p/myco/ledger"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// goleveldb's Close leaves mpoolDrain waiting up to one second for its
	// memdb pool to drain (db_state.go); it is goleveldb's, it ends by
	// itself, and it is not ours to stop.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/syndtr/goleveldb/leveldb.(*DB).mpoolDrain"))
}

func ruleCode(err error) ledger.ErrorCode {
	var re *ledger.RuleError
	if errors.As(err, &re) {
		return re.Code
	}
	return 0
}

// templateMiner returns a function that builds c's next block with
// BlockTemplate, paying to, one block interval after the last (starting
// from genesis time), mines it for real and connects it.
func templateMiner(t *testing.T, c *ledger.Chain) func(to ledger.Address) *ledger.Block {
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
