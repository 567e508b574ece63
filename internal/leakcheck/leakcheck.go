// Package leakcheck fails a test binary when goroutines outlive its tests.
//
// It wraps go.uber.org/goleak with a longer grace period: a closed goleveldb
// database keeps one goroutine for up to a second while it drains its memory
// pool, longer than goleak's own retries wait. libp2p's rate meters
// (go-flow-metrics, behind the node's bandwidth counter) share one
// process-wide sweeper goroutine that starts at first use and never ends,
// by design; it is not a leak of ours and is ignored, as is lumberjack's
// log-rotation goroutine, which its Logger cannot end.
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
		err := goleak.Find(goleak.IgnoreAnyFunction("github.com/libp2p/go-flow-metrics.(*sweeper).run"),
			// lumberjack (the daemon's log file) starts one goroutine per
			// Logger at its first rotation and has no way to end it.
			goleak.IgnoreAnyFunction("gopkg.in/natefinch/lumberjack%2ev2.(*Logger).millRun"))
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
