package main

import (
	"strings"
	"testing"
)

func TestProgressLine(t *testing.T) {
	b := newProgressBar(nil, "fetch", true)
	cases := []struct {
		done, total int64
		rate        float64
		peers       int
		want        []string
	}{
		{0, 100 << 20, 0, 0, []string{"0%", "0 B/100.0 MiB", "0 peer(s)", "ETA --"}},
		{0, -1, 0, 1, []string{"0%", "0 B/?", "1 peer(s)", "ETA --"}},
		{50 << 20, 100 << 20, 10 << 20, 3, []string{"50%", "50.0 MiB/100.0 MiB", "10.0 MiB/s", "3 peer(s)", "ETA 5s", "[===============>"}},
		{100 << 20, 100 << 20, 10 << 20, 2, []string{"100%", "ETA 0s", "[==============================]"}},
	}
	for _, c := range cases {
		got := b.line(c.done, c.total, c.rate, c.peers)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("line(%d, %d, %v, %d) = %q; want it to contain %q", c.done, c.total, c.rate, c.peers, got, w)
			}
		}
	}
}

func TestProgressLineShowsState(t *testing.T) {
	b := newProgressBar(nil, "fetch", true)
	b.state = "finding peers"
	if got := b.line(0, -1, 0, 0); !strings.HasSuffix(got, "(finding peers)") {
		t.Errorf("line = %q; want the state at the end", got)
	}
	b.state = "downloading"
	if got := b.line(1, 2, 0, 1); strings.HasSuffix(got, ")") {
		t.Errorf("line = %q; want no state while downloading", got)
	}
}

func TestHumanBytes(t *testing.T) {
	for in, want := range map[float64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1.5 * (1 << 30): "1.5 GiB"} {
		if got := humanBytes(in); got != want {
			t.Errorf("humanBytes(%v) = %q; want %q", in, got, want)
		}
	}
}
