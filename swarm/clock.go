package swarm

import "time"

// Clock is the swarm's one clock: the session logic, the choker,
// accounting, bans and the rate limiters all read it, so a test that
// drives a fake Clock drives all of them together.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives the time once d has passed
	// on this clock. The limiters wait on it; an abandoned channel must
	// not leak a goroutine.
	After(d time.Duration) <-chan time.Time
}

// WallClock is the real clock: time.Now and time.After.
type WallClock struct{}

// Now returns time.Now().
func (WallClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (WallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
