package swarm

import (
	"math"
	"testing"
	"time"
)

func TestQueueDepth(t *testing.T) {
	c, err := PipelineConfig{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	const mib = 1 << 20
	tests := []struct {
		name string
		rate float64
		leaf int
		want int
	}{
		{"no rate yet", 0, mib, 2},
		{"NaN rate", math.NaN(), mib, 2},
		{"slow peer", 100 << 10, mib, 2},
		{"1 MiB/s, 3 s of 1 MiB leaves", mib, mib, 3},
		{"5 MiB/s", 5 * mib, mib, 15},
		{"5 MiB/s of 256 KiB leaves: 60, capped", 5 * mib, 256 << 10, 32},
		{"fast peer capped", 1 << 30, mib, 32},
		{"infinite", math.Inf(1), mib, 32},
		{"bad leaf size", mib, 0, 2},
	}
	for _, tt := range tests {
		if got := c.QueueDepth(tt.rate, tt.leaf); got != tt.want {
			t.Errorf("%s: QueueDepth(%v, %d) = %d, want %d", tt.name, tt.rate, tt.leaf, got, tt.want)
		}
	}
	short := PipelineConfig{Target: time.Second, Min: 1, Max: 100}
	if got := short.QueueDepth(10*mib, mib); got != 10 {
		t.Errorf("1 s target at 10 MiB/s: depth %d, want 10", got)
	}
}

func TestPipelineConfigRejects(t *testing.T) {
	for _, c := range []PipelineConfig{{Min: -1}, {Min: 10, Max: 5}, {Target: -time.Second}} {
		if _, err := NewPipeline(c, 1<<20); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
	if _, err := NewPipeline(PipelineConfig{}, 0); err == nil {
		t.Error("leaf size 0 accepted")
	}
}

func TestPipelineSlowStartThenRate(t *testing.T) {
	const mib = 1 << 20
	p, err := NewPipeline(PipelineConfig{}, mib)
	if err != nil {
		t.Fatal(err)
	}
	if p.Depth() != 2 || !p.SlowStart() {
		t.Fatalf("new peer: depth %d slow start %v, want 2 true", p.Depth(), p.SlowStart())
	}
	// Each round trip the whole queue arrives: the depth doubles.
	for round, want := range []int{4, 8, 16} {
		for range p.Depth() {
			p.Received()
		}
		if p.Depth() != want {
			t.Fatalf("round %d: depth %d, want %d", round, p.Depth(), want)
		}
		p.Tick(float64(want) * mib) // the rate keeps growing
		if !p.SlowStart() {
			t.Fatalf("round %d: slow start ended while the rate grew", round)
		}
	}
	// The rate levels off at 4 MiB/s: slow start ends and the depth
	// follows the rate: 3 s at 4 MiB/s is 12 leaves.
	p.Tick(16 * mib)
	p.Tick(4 * mib)
	if p.SlowStart() {
		t.Fatal("still in slow start after the rate stopped growing")
	}
	if p.Depth() != 12 {
		t.Errorf("depth at 4 MiB/s = %d, want 12", p.Depth())
	}
	p.Received()
	if p.Depth() != 12 {
		t.Errorf("depth moved to %d on a received leaf after slow start", p.Depth())
	}
	p.Reset()
	if p.Depth() != 2 || !p.SlowStart() {
		t.Errorf("after Reset: depth %d slow start %v", p.Depth(), p.SlowStart())
	}
}

func TestPipelineSlowStartStopsAtMax(t *testing.T) {
	p, err := NewPipeline(PipelineConfig{Min: 1, Max: 5}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		p.Received()
	}
	if p.Depth() != 5 {
		t.Fatalf("depth %d above max 5", p.Depth())
	}
	p.Tick(1 << 20)
	p.Tick(100 << 20) // still growing fast, but the queue is at max
	if p.SlowStart() {
		t.Error("slow start did not end at max")
	}
}
