package webui

import (
	"sync"
	"time"
)

// Rate is the transfer rate between two samples, in bytes per second,
// stamped with the later sample's time (Unix milliseconds).
type Rate struct {
	Time int64   `json:"t"`
	Up   float64 `json:"up"`
	Down float64 `json:"down"`
}

// Bandwidth keeps the last samples of two growing byte counters (sent and
// received) and turns them into rates: the dashboard's chart of the last
// minutes. The caller samples it at its own pace.
type Bandwidth struct {
	mu      sync.Mutex
	samples []sample // a ring of at most cap(samples)
	next    int      // where the next sample goes once the ring is full
}

type sample struct {
	at       time.Time
	up, down int64
}

// NewBandwidth keeps n samples (n-1 rates).
func NewBandwidth(n int) *Bandwidth {
	return &Bandwidth{samples: make([]sample, 0, max(n, 2))}
}

// Add records the counters' values at time at.
func (b *Bandwidth) Add(at time.Time, up, down int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := sample{at, up, down}
	if len(b.samples) < cap(b.samples) {
		b.samples = append(b.samples, s)
		return
	}
	b.samples[b.next] = s
	b.next = (b.next + 1) % len(b.samples)
}

// Rates returns the rate between each pair of consecutive samples, oldest
// first. A counter that went down (a restart) counts as no traffic.
func (b *Bandwidth) Rates() []Rate {
	b.mu.Lock()
	ordered := make([]sample, 0, len(b.samples))
	ordered = append(ordered, b.samples[b.next:]...)
	ordered = append(ordered, b.samples[:b.next]...)
	b.mu.Unlock()
	out := make([]Rate, 0, max(len(ordered)-1, 0))
	for i := 1; i < len(ordered); i++ {
		prev, cur := ordered[i-1], ordered[i]
		secs := cur.at.Sub(prev.at).Seconds()
		if secs <= 0 {
			continue
		}
		out = append(out, Rate{
			Time: cur.at.UnixMilli(),
			Up:   float64(max(cur.up-prev.up, 0)) / secs,
			Down: float64(max(cur.down-prev.down, 0)) / secs,
		})
	}
	return out
}
