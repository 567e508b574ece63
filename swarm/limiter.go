package swarm

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// minBurst is the smallest bucket a Limiter has, so that a low rate still
// lets a whole small message through at once.
const minBurst = 64 << 10

// Limiter is a token bucket that caps a byte rate: upload or download, for
// one session or the whole node. Its rate can change at any time. The bucket
// holds at most a quarter of a second of the rate (at least 64 KiB); a
// message larger than that goes through when the bucket is full and leaves
// it in debt, so the long-run rate holds for messages of any size.
//
// The bucket math (Take, SetRate) takes explicit times. Wait is the edge: it
// reads the Clock given to NewLimiter (WallClock if nil) and waits on that
// clock's After, so a fake clock in tests drives the limiter too. A Limiter
// is safe for concurrent use.
type Limiter struct {
	clock Clock

	mu     sync.Mutex
	rate   float64 // bytes per second; 0 means unlimited
	burst  float64
	tokens float64
	last   time.Time
	// changed is closed (and replaced) when the rate changes, to wake
	// waiters so they recompute their wait.
	changed chan struct{}
}

// NewLimiter returns a limiter of rate bytes per second (0 for unlimited)
// with a full bucket at now. clock is what Wait reads and waits on; nil
// means WallClock.
func NewLimiter(rate int64, now time.Time, clock Clock) *Limiter {
	if clock == nil {
		clock = WallClock{}
	}
	l := &Limiter{clock: clock, last: now, changed: make(chan struct{})}
	l.setRate(rate)
	l.tokens = l.burst
	return l
}

func (l *Limiter) setRate(rate int64) {
	l.rate = float64(max(rate, 0))
	l.burst = max(l.rate/4, minBurst)
	l.tokens = min(l.tokens, l.burst)
}

// SetRate changes the rate from now on; 0 or less means unlimited. Tokens
// gathered so far at the old rate are kept (up to the new bucket size), and
// goroutines in Wait recompute their wait at once.
func (l *Limiter) SetRate(rate int64, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refill(now)
	wasUnlimited := l.rate == 0
	l.setRate(rate)
	if wasUnlimited {
		l.tokens = l.burst // nothing was held back while unlimited
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// Rate returns the current rate in bytes per second, 0 when unlimited.
func (l *Limiter) Rate() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int64(l.rate)
}

// Take asks to move n bytes at now. If the bucket holds enough tokens (n,
// or a full bucket for n larger than the bucket), it takes n and returns 0.
// Otherwise it takes nothing and returns how long until it would succeed at
// the current rate.
func (l *Limiter) Take(now time.Time, n int) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.take(now, n)
}

func (l *Limiter) take(now time.Time, n int) time.Duration {
	l.refill(now)
	if l.rate == 0 || n <= 0 {
		return 0
	}
	need := min(float64(n), l.burst)
	if l.tokens >= need {
		l.tokens -= float64(n)
		return 0
	}
	secs := (need - l.tokens) / l.rate
	return time.Duration(math.Ceil(secs * float64(time.Second)))
}

func (l *Limiter) refill(now time.Time) {
	if now.After(l.last) {
		l.tokens = min(l.burst, l.tokens+l.rate*now.Sub(l.last).Seconds())
		l.last = now
	}
}

// Wait blocks until n bytes may move, or ctx is done.
func (l *Limiter) Wait(ctx context.Context, n int) error {
	for {
		l.mu.Lock()
		d := l.take(l.clock.Now(), n)
		changed := l.changed
		l.mu.Unlock()
		if d == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rate limit wait: %w", ctx.Err())
		case <-changed:
		case <-l.clock.After(d):
		}
	}
}

// ParseRate parses a rate in bytes per second: a number (fractions allowed)
// with an optional suffix k, M, G or T (powers of 1000: "20M" is 20 MB/s)
// or Ki, Mi, Gi, Ti (powers of 1024), optionally followed by "B" and "/s".
// "0" means unlimited. The suffix letters are case-insensitive except that
// "m" is accepted for M (nobody means millibytes).
func ParseRate(s string) (int64, error) {
	num, mult, err := splitRate(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("parse rate %q: %w", s, err)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("parse rate %q: %q is not a number", s, num)
	}
	if v < 0 {
		return 0, fmt.Errorf("parse rate %q: negative", s)
	}
	bytes := v * mult
	if bytes >= math.MaxInt64 {
		return 0, fmt.Errorf("parse rate %q: too large", s)
	}
	return int64(math.Round(bytes)), nil
}

// splitRate separates the number from the unit and returns the unit's
// multiplier.
func splitRate(s string) (string, float64, error) {
	if s == "" {
		return "", 0, fmt.Errorf("empty")
	}
	unit := strings.TrimSuffix(s, "/s")
	end := len(unit)
	for end > 0 && strings.ContainsRune("kKmMgGtTiIbB", rune(unit[end-1])) {
		end--
	}
	num, suffix := unit[:end], strings.ToLower(unit[end:])
	suffix = strings.TrimSuffix(suffix, "b")
	mults := map[string]float64{
		"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12,
		"ki": 1 << 10, "mi": 1 << 20, "gi": 1 << 30, "ti": 1 << 40,
	}
	mult, ok := mults[suffix]
	if !ok || num == "" || strings.ContainsAny(num, "+_ ") || strings.HasPrefix(strings.ToLower(num), "0x") {
		return "", 0, fmt.Errorf("want a number with an optional k, M, G, Ki, Mi or Gi suffix")
	}
	return num, mult, nil
}

// FormatRate formats bytes per second the way ParseRate reads them, with the
// largest decimal suffix that keeps the value whole ("20M", "512k", "1500").
// 0 is "0" (unlimited).
func FormatRate(rate int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"T", 1e12}, {"G", 1e9}, {"M", 1e6}, {"k", 1e3}} {
		if rate != 0 && rate%u.mult == 0 {
			return strconv.FormatInt(rate/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(rate, 10)
}
