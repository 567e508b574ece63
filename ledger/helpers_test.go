package ledger_test

import (
	"errors"
	"testing"

	"github.com/myco-p2p/myco/ledger"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ruleCode(err error) ledger.ErrorCode {
	var re *ledger.RuleError
	if errors.As(err, &re) {
		return re.Code
	}
	return 0
}
