package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// usage is what the victim's process has spent so far, read from /proc
// (Linux; elsewhere the figures stay zero and the row says n/a).
type usage struct {
	cpu  time.Duration // user + system
	rss  int64         // resident bytes now
	disk int64         // bytes under the repo's dht directory
	ok   bool
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat times.
const clockTicks = 100

func measure(v *victim) usage {
	var u usage
	pid := v.d.cmd.Process.Pid
	cpu, ok := processCPU(pid)
	if !ok {
		return u
	}
	u.cpu = cpu
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			u.rss = kb << 10
		}
	}
	filepath.WalkDir(filepath.Join(v.repo, "dht"), func(_ string, e os.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			if info, err := e.Info(); err == nil {
				u.disk += info.Size()
			}
		}
		return nil
	})
	u.ok = true
	return u
}

// processCPU is the user + system time process pid has spent so far.
func processCPU(pid int) (time.Duration, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name may hold spaces: fields count from after its ")".
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(f) < 13 {
		return 0, false
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTicks, true
}

// report logs one row of the attack table that testnet/bench.sh prints:
// the attack, what the attacker sent, what the victim spent between
// before and after (CPU, bytes out, disk growth, RSS), the ratio of the
// victim's bytes out to the attacker's bytes in, and the time to the ban.
// It asserts nothing: the figures are measurements.
func report(t *testing.T, name, sent string, attackerBytes, victimBytes int64, before, after usage, ban time.Duration) {
	t.Helper()
	if !before.ok || !after.ok {
		t.Logf("attack-row|%s|%s|n/a|n/a|n/a|n/a|n/a|%s", name, sent, banText(ban))
		return
	}
	ratio := "-"
	if attackerBytes > 0 && victimBytes > 0 {
		ratio = fmt.Sprintf("%.2f", float64(victimBytes)/float64(attackerBytes))
	}
	t.Logf("attack-row|%s|%s|%.2f s|%d B|%+d B|%d MB|%s|%s", name, sent,
		(after.cpu - before.cpu).Seconds(), victimBytes, after.disk-before.disk, after.rss>>20, ratio, banText(ban))
}

// bannedBefore, passed to report as the time to ban, marks an attack made
// by a peer banned before it started.
const bannedBefore time.Duration = -1

func banText(d time.Duration) string {
	switch d {
	case 0:
		return "not banned"
	case bannedBefore:
		return "banned before"
	}
	return d.Round(time.Millisecond).String()
}

// idleCPU is the share of one core the victim spends over window while
// nobody asks it anything: the baseline an attack's cost is read against.
func idleCPU(t *testing.T, v *victim, window time.Duration) float64 {
	t.Helper()
	before := measure(v)
	<-time.After(window) // a measurement window, not a wait for an event
	return (measure(v).cpu - before.cpu).Seconds() / window.Seconds()
}

// metricValue reads an unlabelled metric from a /metrics scrape.
func metricValue(t *testing.T, metrics, name string) float64 {
	t.Helper()
	for _, l := range strings.Split(metrics, "\n") {
		if rest, ok := strings.CutPrefix(l, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", name, err)
			}
			return v
		}
	}
	t.Fatalf("no metric %s in the scrape", name)
	return 0
}
