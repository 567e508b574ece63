//go:build !windows

package lab

import (
	"os/exec"
	"strings"
	"testing"
)

// TestScriptRulesets checks that testnet/lab.sh loads the same nftables
// ruleset into each kind of router as this package does.
func TestScriptRulesets(t *testing.T) {
	for _, k := range []Kind{Cone, Symmetric, Firewall, Open} {
		want, ok := Ruleset(k)
		if !ok {
			t.Fatalf("no ruleset for %s", k)
		}
		out, err := exec.Command("bash", "../lab.sh", "ruleset", string(k)).CombinedOutput()
		if err != nil {
			t.Fatalf("lab.sh ruleset %s: %v\n%s", k, err, out)
		}
		if got := strings.Fields(string(out)); strings.Join(got, " ") != strings.Join(strings.Fields(want), " ") {
			t.Errorf("lab.sh ruleset %s differs from Ruleset:\n%s\nwant:\n%s", k, out, want)
		}
	}
	if _, ok := Ruleset("nat"); ok {
		t.Error(`Ruleset("nat") is a ruleset`)
	}
}
