package main

import "testing"

func TestStateText(t *testing.T) {
	cases := []struct {
		state, reason string
		pct           float64
		want          string
	}{
		{"downloading", "", 42.4, "downloading 42%"},
		{"verifying", "", 100, "verifying 100%"},
		{"verifying", "", 0, "verifying"},
		{"finding peers", "", 0, "finding peers"},
		{"failed", "no peer provides the root", 0, "failed: no peer provides the root"},
		{"broken", "referenced file changed since it was shared", 0, "broken: referenced file changed since it was shared"},
		{"seeding", "", 0, "seeding"},
		{"cancelled", "", 0, "cancelled"},
	}
	for _, c := range cases {
		if got := stateText(c.state, c.reason, c.pct); got != c.want {
			t.Errorf("stateText(%q, %q, %v) = %q; want %q", c.state, c.reason, c.pct, got, c.want)
		}
	}
}
