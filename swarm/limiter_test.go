package swarm

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestLimiterTakeExplicitTimes(t *testing.T) {
	const rate = 1_000_000 // burst 250 kB
	l := NewLimiter(rate, t0, nil)
	if d := l.Take(t0, 250_000); d != 0 {
		t.Fatalf("full bucket: wait %v for 250 kB", d)
	}
	if d := l.Take(t0, 100_000); d != 100*time.Millisecond {
		t.Fatalf("empty bucket: wait %v for 100 kB at 1 MB/s, want 100ms", d)
	}
	if d := l.Take(t0.Add(50*time.Millisecond), 100_000); d != 50*time.Millisecond {
		t.Fatalf("half refilled: wait %v, want 50ms", d)
	}
	if d := l.Take(t0.Add(100*time.Millisecond), 100_000); d != 0 {
		t.Fatalf("refilled: wait %v, want 0", d)
	}
	// A message bigger than the bucket goes when the bucket is full and
	// leaves a debt that later messages wait out.
	now := t0.Add(time.Second) // full again
	if d := l.Take(now, 1_000_000); d != 0 {
		t.Fatalf("1 MB with a full bucket: wait %v, want 0 (debt)", d)
	}
	if d := l.Take(now, 1); d != 750_001*time.Microsecond {
		t.Fatalf("after the debt: wait %v, want 750.001ms", d)
	}
}

func TestLimiterLongRunRate(t *testing.T) {
	const rate = 2_000_000
	l := NewLimiter(rate, t0, nil)
	now := t0
	var moved int64
	for now.Before(t0.Add(10 * time.Second)) {
		if d := l.Take(now, 64<<10); d != 0 {
			now = now.Add(d)
			continue
		}
		moved += 64 << 10
	}
	// 10 s at the rate plus the first full bucket, within one message.
	want := int64(rate*10 + rate/4)
	if moved < want-64<<10 || moved > want+64<<10 {
		t.Errorf("moved %d bytes in 10 s at %d B/s, want about %d", moved, rate, want)
	}
}

func TestLimiterSetRate(t *testing.T) {
	l := NewLimiter(1_000_000, t0, nil)
	l.Take(t0, 250_000)
	l.SetRate(4_000_000, t0)
	if l.Rate() != 4_000_000 {
		t.Fatalf("Rate = %d after SetRate", l.Rate())
	}
	if d := l.Take(t0, 400_000); d != 100*time.Millisecond {
		t.Errorf("at 4 MB/s: wait %v for 400 kB, want 100ms", d)
	}
	l.SetRate(0, t0)
	if d := l.Take(t0, 1<<30); d != 0 {
		t.Errorf("unlimited: wait %v", d)
	}
	l.SetRate(100_000, t0.Add(time.Second))
	if d := l.Take(t0.Add(time.Second), 64<<10); d != 0 {
		t.Errorf("back to limited: the bucket refilled while unlimited should pass 64 KiB, wait %v", d)
	}
}

func TestLimiterWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(100_000, time.Now(), nil) // burst 64 KiB
		start := time.Now()
		ctx := context.Background()
		if err := l.Wait(ctx, 64<<10); err != nil {
			t.Fatal(err)
		}
		if err := l.Wait(ctx, 50_000); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 500*time.Millisecond {
			t.Errorf("second wait took %v, want 500ms at 100 kB/s", got)
		}
	})
}

func TestLimiterWaitWakesOnRateChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(1000, time.Now(), nil)
		l.Take(time.Now(), 64<<10)
		start := time.Now()
		done := make(chan error)
		go func() { done <- l.Wait(context.Background(), 64<<10) }()
		synctest.Wait() // the waiter is blocked: 65 s to go at 1 kB/s
		l.SetRate(0, time.Now())
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 0 {
			t.Errorf("waiter released after %v, want at once when the limit was lifted", got)
		}
	})
}

func TestLimiterWaitCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(1000, time.Now(), nil)
		l.Take(time.Now(), 64<<10)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := l.Wait(ctx, 64<<10)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want DeadlineExceeded", err)
		}
	})
}

func TestParseRate(t *testing.T) {
	good := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"1048576", 1048576},
		{"20M", 20_000_000},
		{"20m", 20_000_000},
		{"512k", 512_000},
		{"512K", 512_000},
		{"1G", 1_000_000_000},
		{"1.5M", 1_500_000},
		{"20MB/s", 20_000_000},
		{"20MB", 20_000_000},
		{"1Mi", 1 << 20},
		{"1MiB/s", 1 << 20},
		{"4Ki", 4096},
		{"2T", 2_000_000_000_000},
		{" 10k ", 10_000},
		{"100B", 100},
	}
	for _, tt := range good {
		got, err := ParseRate(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	bad := []string{"", "M", "fast", "-1", "-5M", "20X", "20 M", "1kk", "1iB", "0x10", "1_000",
		"+5", "NaN", "Inf", "1e400", "20M/h", "99999999999T", "1..2"}
	for _, in := range bad {
		if got, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) = %d, want an error", in, got)
		}
	}
}

func TestFormatRate(t *testing.T) {
	for _, tt := range []struct {
		in   int64
		want string
	}{{0, "0"}, {20_000_000, "20M"}, {512_000, "512k"}, {1500, "1500"}, {1 << 20, "1048576"}, {3e9, "3G"}} {
		if got := FormatRate(tt.in); got != tt.want {
			t.Errorf("FormatRate(%d) = %q, want %q", tt.in, got, tt.want)
		}
		if back, err := ParseRate(FormatRate(tt.in)); err != nil || back != tt.in {
			t.Errorf("ParseRate(FormatRate(%d)) = %d, %v", tt.in, back, err)
		}
	}
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"20M", "512k", "1G", "1048576", "1.5Mi", "0", "-1", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseRate(s)
		if err == nil && v < 0 {
			t.Fatalf("ParseRate(%q) = %d, negative", s, v)
		}
	})
}

func TestLimiterConcurrentWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rate = 1 << 20
		l := NewLimiter(rate, time.Now(), nil) // bucket 256 KiB
		start := time.Now()
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 8 {
					if err := l.Wait(context.Background(), 64<<10); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		// 2 MiB through a 1 MiB/s limit with a full 256 KiB bucket at the
		// start: 1.75 s.
		if got := time.Since(start); got < 1700*time.Millisecond || got > 1800*time.Millisecond {
			t.Errorf("4 waiters moving 2 MiB at 1 MiB/s took %v, want 1.75 s", got)
		}
	})
}

// Wait waits on the limiter's Clock: a fake clock's Advance wakes it, and
// nothing else does.
func TestLimiterWaitsOnItsClock(t *testing.T) {
	clock := newFakeClock()
	l := NewLimiter(64<<10, clock.Now(), clock) // bucket 64 KiB, full
	if err := l.Wait(context.Background(), 64<<10); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Wait(context.Background(), 32<<10) }()
	<-clock.added // the waiter is on the clock: half a second to go
	select {
	case err := <-done:
		t.Fatalf("Wait returned %v before the clock moved", err)
	default:
	}
	clock.Advance(250 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Wait returned %v a quarter second early", err)
	default:
	}
	clock.Advance(250 * time.Millisecond)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
