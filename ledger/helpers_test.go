package ledger_test

import (
	"errors"
	"testing"

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
