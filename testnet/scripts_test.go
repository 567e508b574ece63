//go:build !windows

package testnet

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestUpDownLeavesNoProcess runs the real scripts: up.sh starts five
// daemons, every one answers, and down.sh leaves none of them running.
func TestUpDownLeavesNoProcess(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "myco")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/myco").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	run := filepath.Join(dir, "run")
	env := append(os.Environ(), "MYCO_BIN="+bin, "MYCO_RUN_DIR="+run)
	script := func(name string, args ...string) string {
		cmd := exec.Command("bash", append([]string{name}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		return string(out)
	}
	// Whatever happens below, stop what up.sh started.
	t.Cleanup(func() {
		cmd := exec.Command("bash", "down.sh")
		cmd.Env = env
		cmd.Run()
	})
	out := script("up.sh", "5")
	if !strings.Contains(out, "started 5 myco daemons") {
		t.Fatalf("up.sh said: %s", out)
	}
	data, err := os.ReadFile(filepath.Join(run, "pids"))
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("pids file: %v", err)
		}
		pids = append(pids, pid)
	}
	if len(pids) != 5 {
		t.Fatalf("up.sh recorded %d pids; want 5", len(pids))
	}
	for i := range 5 {
		cmd := exec.Command(bin, "--repo", filepath.Join(run, "node"+strconv.Itoa(i)), "id")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("node %d does not answer: %v\n%s", i, err, out)
		}
	}
	out = script("down.sh")
	if !strings.Contains(out, "stopped 5") {
		t.Errorf("down.sh said: %s", out)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("pid %d still exists after down.sh (kill -0: %v)", pid, err)
		}
	}
}
