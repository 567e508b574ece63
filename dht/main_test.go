package dht

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package when any goroutine outlives the tests.
// goleak.VerifyTestMain gives lingering goroutines about half a second; a
// closed leveldb keeps one for up to a second while it drains its memory
// pool, so the check is repeated here for a few seconds before it fails.
func TestMain(m *testing.M) {
	code := m.Run()
	if code != 0 {
		os.Exit(code)
	}
	var err error
	deadline := time.After(5 * time.Second)
	for {
		if err = goleak.Find(); err == nil {
			os.Exit(0)
		}
		select {
		case <-deadline:
			fmt.Fprintf(os.Stderr, "goleak: goroutines outlived the tests: %v\n", err)
			os.Exit(1)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
