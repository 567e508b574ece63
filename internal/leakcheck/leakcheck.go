// Package leakcheck fails a test binary when goroutines outlive its tests.
//
// It wraps go.uber.org/goleak with a longer grace period: a closed goleveldb
// database keeps one goroutine for up to a second while it drains its memory
// pool, longer than goleak's own retries wait.
package leakcheck

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// grace is how long goroutines may take to end after the tests.
const grace = 5 * time.Second

// VerifyTestMain runs the tests, then exits non-zero if they failed or if
// goroutines are still running after the grace period. Call it from
// TestMain.
func VerifyTestMain(m *testing.M) {
	code := m.Run()
	if code != 0 {
		os.Exit(code)
	}
	deadline := time.Now().Add(grace)
	for {
		err := goleak.Find()
		if err == nil {
			os.Exit(0)
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "leakcheck: goroutines outlived the tests: %v\n", err)
			os.Exit(1)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
