package leveldbstore_test

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// goleveldb's Close leaves mpoolDrain waiting up to one second for its
	// memdb pool to drain (db_state.go); it is goleveldb's, it ends by
	// itself, and it is not ours to stop.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/syndtr/goleveldb/leveldb.(*DB).mpoolDrain"))
}
