package chunker

import (
	"testing"

	"go.uber.org/goleak"
)

// The importer runs reader and hasher goroutines; none may outlive an
// import. goleveldb's mpoolDrain is ignored: DB.Close does not wait for it
// (it lingers up to a second by design, see leveldb/db.go openDB).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/syndtr/goleveldb/leveldb.(*DB).mpoolDrain"))
}
