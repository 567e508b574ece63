package dht

import (
	"testing"

	"github.com/myco-p2p/myco/internal/leakcheck"
)

// TestMain fails the package when any goroutine outlives the tests (a
// closed leveldb gets the grace period it needs to drain).
func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m)
}
