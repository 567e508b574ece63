// Package tokenbucket is the cost model shared by myco's protocol
// handlers: a token bucket on an injected clock, and the verdict a handler
// draws from it for one request of a peer (serve now, serve after a wait,
// refuse). It owns no goroutine and never reads the clock itself; callers
// keep one bucket per peer and per kind of cost.
package tokenbucket

import "time"

// Bucket holds tokens refilled at a rate up to a burst. Its level may go
// below zero: that debt is how long the next taker waits. The zero value is
// full at its first Take.
type Bucket struct {
	level float64
	at    time.Time
}

// Take removes n tokens at now (refilling at rate per second, up to burst,
// first) and returns how long the bucket needs to be back at zero; 0 means
// the tokens were there.
func (b *Bucket) Take(now time.Time, n, rate, burst float64) time.Duration {
	if b.at.IsZero() {
		b.level = burst
	} else if dt := now.Sub(b.at).Seconds(); dt > 0 {
		b.level = min(burst, b.level+dt*rate)
	}
	if now.After(b.at) {
		b.at = now
	}
	b.level -= n
	if b.level >= 0 {
		return 0
	}
	return time.Duration(-b.level / rate * float64(time.Second))
}

// Give puts n tokens back (a refused request costs its peer nothing but
// points).
func (b *Bucket) Give(n float64) { b.level += n }

// Full reports when, after at, the bucket would be full again.
func (b *Bucket) Full(rate, burst float64) time.Time {
	if b.at.IsZero() {
		return time.Time{}
	}
	return b.at.Add(time.Duration((burst - b.level) / rate * float64(time.Second)))
}

// Verdict is what a handler does with one request.
type Verdict int

const (
	// Serve now: the peer is within its budget.
	Serve Verdict = iota
	// Delay the answer by the wait: the peer is a little over its budget.
	Delay
	// Refuse the request: the peer is further over its budget than
	// maxDelay; the caller gives the tokens back and scores the peer.
	Refuse
)

// Judge turns the wait a Take returned into a verdict.
func Judge(wait, maxDelay time.Duration) Verdict {
	switch {
	case wait == 0:
		return Serve
	case wait <= maxDelay:
		return Delay
	default:
		return Refuse
	}
}

// Default sets a zero or negative rate, burst or delay to d: a budget's
// fields that a config leaves out take their defaults.
func Default[T float64 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}
