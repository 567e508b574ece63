package ledger

import (
	"strings"
	"testing"
)

func TestParseAmount(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		err  string
	}{
		{"0", 0, ""},
		{"150000000", 150000000, ""},
		{"18446744073709551615", ^uint64(0), ""},
		{"18446744073709551616", 0, "larger than"},
		{"-1", 0, "negative"},
		{"1.5", 0, "whole number"},
		{"abc", 0, "whole number"},
		{"", 0, "empty"},
	} {
		got, err := ParseAmount(tc.in)
		if tc.err == "" && (err != nil || got != tc.want) {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ParseAmount(%q) err = %v, want it to mention %q", tc.in, err, tc.err)
		}
	}
	if got := FormatCoins(150000001); got != "1.50000001" {
		t.Errorf("FormatCoins = %q", got)
	}
}

func TestSubsidyHalving(t *testing.T) {
	p := NetworkMain.Params()
	for _, tc := range []struct{ height, want uint64 }{
		{0, 50 * Coin},
		{p.HalvingInterval - 1, 50 * Coin},
		{p.HalvingInterval, 25 * Coin},
		{3 * p.HalvingInterval, 50 * Coin / 8},
		{64 * p.HalvingInterval, 0},
		{^uint64(0), 0},
	} {
		if got := p.Subsidy(tc.height); got != tc.want {
			t.Errorf("Subsidy(%d) = %d, want %d", tc.height, got, tc.want)
		}
	}
}
