package node

import (
	"log/slog"
	"os"
	"runtime/debug"
)

// daemonGCPercent is the garbage collector's target a daemon runs with:
// the heap may grow to 1.5 times what was live after the last collection
// (Go's default, 100, lets it double). A daemon's live heap is small and
// mostly fixed-size buffers (swarm: a few pooled blocks being received,
// stored and served; leveldb: 1 MiB write buffers and block caches), so
// the garbage allowed between collections is most of its peak resident
// memory. Measured with 24 dev daemons, a 64 MiB file, a seeder capped at
// 20 MB/s and 23 leechers at once (testnet/bench.sh): the largest peak
// RSS of any daemon went from 86 MiB at 100 to 67 MiB at 50; about 31 MiB
// of that is the binary's own pages.
//
// A soft memory limit (debug.SetMemoryLimit, GOMEMLIMIT) was measured too
// and not adopted: set low enough to matter (34 to 40 MiB), it sits just
// above what the runtime needs for the live heap, its stacks and its
// metadata, so under load the collector ran almost without pause and the
// same fetch took two to three times the CPU. A percentage scales with
// the live heap instead of hitting a wall. GOGC or GOMEMLIMIT in the
// environment override this.
const daemonGCPercent = 50

// tuneGC sets the daemon's garbage collector target, unless the
// environment sets one.
func tuneGC(log *slog.Logger) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		log.Info("garbage collector tuned by the environment", "GOGC", os.Getenv("GOGC"), "GOMEMLIMIT", os.Getenv("GOMEMLIMIT"))
		return
	}
	debug.SetGCPercent(daemonGCPercent)
}
