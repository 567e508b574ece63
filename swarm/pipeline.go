package swarm

import (
	"fmt"
	"math"
	"time"
)

// PipelineConfig sizes how many requests are kept outstanding to one peer.
// A zero field takes its default.
type PipelineConfig struct {
	// Target is how much transfer time the queue should cover at the peer's
	// measured rate (default 3 s, libtorrent's request_queue_time): enough
	// that the peer never idles waiting for our next request, and little
	// enough that a slow peer does not sit on leaves others could send.
	Target time.Duration
	// Min and Max bound the queue, in leaves (defaults 2 and 32). Max bounds
	// what one peer can owe us; with 1 MiB leaves 32 is 32 MiB in flight,
	// which the sender reads from disk as it sends, not up front.
	Min, Max int
}

// DefaultPipelineConfig returns the defaults.
func DefaultPipelineConfig() PipelineConfig {
	return PipelineConfig{Target: 3 * time.Second, Min: 2, Max: 32}
}

func (c PipelineConfig) withDefaults() (PipelineConfig, error) {
	if c.Target < 0 || c.Min < 0 || c.Max < 0 {
		return c, fmt.Errorf("pipeline config %+v: negative value", c)
	}
	d := DefaultPipelineConfig()
	if c.Target == 0 {
		c.Target = d.Target
	}
	if c.Min == 0 {
		c.Min = d.Min
	}
	if c.Max == 0 {
		c.Max = max(d.Max, c.Min)
	}
	if c.Min > c.Max {
		return c, fmt.Errorf("pipeline config: min %d above max %d", c.Min, c.Max)
	}
	return c, nil
}

// QueueDepth returns the number of leaves of leafSize bytes that cover
// Target at rate bytes per second, rounded up and clamped to [Min, Max].
func (c PipelineConfig) QueueDepth(rate float64, leafSize int) int {
	switch {
	case math.IsInf(rate, 1):
		return c.Max
	case leafSize <= 0 || !(rate > 0): // no rate yet, or NaN
		return c.Min
	}
	want := math.Ceil(rate * c.Target.Seconds() / float64(leafSize))
	if want >= float64(c.Max) {
		return c.Max
	}
	return max(c.Min, int(want))
}

// slowStartGrowth is how much a peer's rate must grow from one Tick to the
// next to stay in slow start.
const slowStartGrowth = 1.1

// Pipeline tracks one peer's request queue depth. A new peer has no rate
// to size its queue by, so the queue starts at Min and grows by one leaf per
// leaf received, doubling every round trip as TCP's slow start does, until
// the peer's rate stops growing (by 10% between two Ticks). From then on the
// depth follows the measured rate (QueueDepth). It is not safe for
// concurrent use.
type Pipeline struct {
	cfg       PipelineConfig
	depth     int
	slowStart bool
	lastRate  float64
	rate      float64
	leafSize  int
}

// NewPipeline returns a pipeline for a peer that sends leaves of leafSize
// bytes (the session's usual leaf size; the last leaf may be shorter).
func NewPipeline(cfg PipelineConfig, leafSize int) (*Pipeline, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("new pipeline: %w", err)
	}
	if leafSize <= 0 {
		return nil, fmt.Errorf("new pipeline: leaf size %d", leafSize)
	}
	return &Pipeline{cfg: cfg, depth: cfg.Min, slowStart: true, leafSize: leafSize}, nil
}

// Depth returns how many requests should be outstanding to the peer.
func (p *Pipeline) Depth() int {
	if p.slowStart {
		return p.depth
	}
	return p.cfg.QueueDepth(p.rate, p.leafSize)
}

// SlowStart reports whether the pipeline is still in slow start.
func (p *Pipeline) SlowStart() bool { return p.slowStart }

// Received records that a requested leaf arrived.
func (p *Pipeline) Received() {
	if p.slowStart {
		p.depth = min(p.depth+1, p.cfg.Max)
	}
}

// Tick gives the peer's current download rate (bytes per second, e.g. from
// Accounting); call it about once a second. Slow start ends when the rate
// grew less than 10% since the last Tick, or the queue reached Max.
func (p *Pipeline) Tick(rate float64) {
	p.rate = rate
	if p.slowStart && p.lastRate > 0 && (rate < p.lastRate*slowStartGrowth || p.depth >= p.cfg.Max) {
		p.slowStart = false
	}
	p.lastRate = rate
}

// Reset returns the peer to slow start at Min, e.g. after it was snubbed
// or its requests timed out.
func (p *Pipeline) Reset() {
	p.depth, p.slowStart, p.lastRate = p.cfg.Min, true, 0
}
