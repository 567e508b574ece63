package tokenbucket

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var b Bucket
	steps := []struct {
		at   time.Duration
		n    float64
		wait time.Duration
	}{
		{0, 4, 0},                                 // full at first: burst 4
		{0, 1, 500 * time.Millisecond},            // one short at 2/s
		{time.Second, 1, 0},                       // 2 back: the debt paid, one taken
		{-time.Second, 1, 500 * time.Millisecond}, // a clock going back refills nothing
		{time.Hour, 0, 0},                         // never above the burst
		{time.Hour, 5, 500 * time.Millisecond},
	}
	for i, s := range steps {
		if got := b.Take(t0.Add(s.at), s.n, 2, 4); got != s.wait {
			t.Fatalf("step %d: wait %s, want %s", i, got, s.wait)
		}
	}
	b.Give(5)
	if full := b.Full(2, 4); !full.Equal(t0.Add(time.Hour)) {
		t.Fatalf("full again at %s, want now (the refund filled it)", full)
	}
}

func TestJudge(t *testing.T) {
	for _, c := range []struct {
		wait time.Duration
		want Verdict
	}{{0, Serve}, {time.Second, Delay}, {2 * time.Second, Delay}, {2*time.Second + 1, Refuse}} {
		if got := Judge(c.wait, 2*time.Second); got != c.want {
			t.Errorf("Judge(%s) = %d, want %d", c.wait, got, c.want)
		}
	}
}

func TestDefault(t *testing.T) {
	rate, burst, delay := 0.0, 7.0, -time.Second
	Default(&rate, 100)
	Default(&burst, 500)
	Default(&delay, 5*time.Second)
	if rate != 100 || burst != 7 || delay != 5*time.Second {
		t.Fatalf("rate %v, burst %v, delay %v; want 100, 7 (given), 5s", rate, burst, delay)
	}
}
