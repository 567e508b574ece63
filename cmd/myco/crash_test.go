package main

import (
	"strconv"
	"syscall"
	"testing"
	"time"
)

// kill ends the daemon with SIGKILL, as a crash or the OOM killer would.
func (d *daemon) kill() {
	d.t.Helper()
	d.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case err := <-d.exit:
		d.exit <- err
	case <-time.After(30 * time.Second):
		d.t.Fatal("daemon did not die of SIGKILL")
	}
}

// TestKilledWhileMiningRestartsAndCatchesUp kills a daemon with SIGKILL
// while it mines and receives another miner's blocks: it restarts on the
// same repo with a valid chain and catches up with the network.
func TestKilledWhileMiningRestartsAndCatchesUp(t *testing.T) {
	a, b := initRepo(t), initRepo(t)
	startDaemon(t, a, "--mine")
	boot := getID(t, a).Addrs[0]
	victim := startDaemon(t, b, "--mine", "--bootstrap", boot)

	hb, _ := chainStatus(t, b)
	waitHeight(t, b, hb+30) // mining and receiving for a while
	victim.kill()
	if r := myco(t, b, "chain", "status"); r.code == 0 {
		t.Fatal("the killed daemon still answers")
	}

	startDaemon(t, b, "--bootstrap", boot) // same repo, stale api file and all
	restarted, _ := chainStatus(t, b)
	t.Logf("restarted at height %d", restarted)

	// Stop the network's miner, then the restarted node must reach its tip.
	if r := myco(t, a, "mine", "stop"); r.code != 0 {
		t.Fatalf("mine stop: %s", r.stderr)
	}
	ha, tipA := chainStatus(t, a)
	waitHeight(t, b, ha)
	hb2, tipB := chainStatus(t, b)
	if hb2 != ha || tipB != tipA {
		// The two miners may have left equal-work tips; one more block
		// from a settles it.
		myco(t, a, "mine", "start")
		waitHeight(t, a, ha+1)
		myco(t, a, "mine", "stop")
		ha, tipA = chainStatus(t, a)
		waitHeight(t, b, ha)
		hb2, tipB = chainStatus(t, b)
	}
	if hb2 != ha || tipB != tipA {
		t.Fatalf("restarted node at %d %s; the network at %d %s", hb2, tipB, ha, tipA)
	}
	// Every block of its chain is readable and linked.
	for h := uint64(1); h <= hb2; h += max(1, hb2/20) {
		if r := myco(t, b, "chain", "block", strconv.FormatUint(h, 10), "--json"); r.code != 0 {
			t.Fatalf("block %d after restart: %s", h, r.stderr)
		}
	}
}
