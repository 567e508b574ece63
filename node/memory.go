package node

import (
	"log/slog"
	"os"
	"runtime/debug"
)

// daemonGCPercent is the garbage collector's target a daemon runs with:
// the heap may grow to 1.3 times what was live after the last collection
// (Go's default, 100, lets it double). A daemon's live heap is small and
// mostly fixed-size buffers (swarm: a few pooled blocks being received,
// stored and served; leveldb: 1 MiB write buffers and block caches), and
// it allocates little per byte moved, so collecting more often costs
// little CPU, and the garbage allowed between collections was most of its
// peak resident memory. Measured with 24 dev daemons, a 64 MiB file, a
// seeder capped at 20 MB/s and 23 leechers at once (testnet/bench.sh),
// with the pooled buffers: the largest peak RSS of any daemon was 86 MiB
// at 100, 67 to 73 MiB at 50, 61 to 63 MiB at 30 with the resource
// manager's per-peer memory capped (node/doc.go says why it is not) and
// 66 to 70 MiB at 30 without, with the same CPU-seconds in all (about 30,
// within the noise of a shared machine); about 31 MiB of it is the
// binary's own pages. A 1 GiB fetch costs the seeder no more CPU at 30.
//
// Since then the buffers no longer wait on other peers (issue 19), and the
// peak moved: it comes in a leecher's last second, when every peer that
// finished sends it a leaf at once (about 20 leaves of 1 MiB arriving, in
// our buffers and the muxers'), and it is live memory, which the target
// does not shrink. Measured again (the same bench, leaves read straight
// into the store's buffers): 85 MiB at 100, 86 at 50, 75 to 82 at 30 and
// 80 at 20, of which about 30 MiB the binary's pages. With peers dialled
// on TCP first (host.go), whose queued bytes wait in the kernel rather
// than in QUIC's buffers, it is 69 to 73 MiB at 30.
//
// A soft memory limit (debug.SetMemoryLimit, GOMEMLIMIT) was measured too
// and not adopted: set low enough to matter (34 to 40 MiB), it sits just
// above what the runtime needs for the live heap, its stacks and its
// metadata, so under load the collector ran almost without pause and the
// same fetch took two to three times the CPU. A percentage scales with
// the live heap instead of hitting a wall. GOGC or GOMEMLIMIT in the
// environment override this.
const daemonGCPercent = 30

// tuneGC sets the daemon's garbage collector target, unless the
// environment sets one.
func tuneGC(log *slog.Logger) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		log.Info("garbage collector tuned by the environment", "GOGC", os.Getenv("GOGC"), "GOMEMLIMIT", os.Getenv("GOMEMLIMIT"))
		return
	}
	debug.SetGCPercent(daemonGCPercent)
}
