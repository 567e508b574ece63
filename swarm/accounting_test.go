package swarm

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// within reports whether got is within frac of want.
func within(got, want, frac float64) bool { return math.Abs(got-want) <= frac*want }

func TestMeterSteadyRate(t *testing.T) {
	m := NewMeter(20*time.Second, t0)
	now := t0
	for range 600 { // 100 bytes every 100 ms for 60 s
		m.Add(now, 100)
		now = now.Add(100 * time.Millisecond)
	}
	if got := m.Rate(now.Add(-50 * time.Millisecond)); !within(got, 1000, 0.01) {
		t.Errorf("steady 1000 B/s: rate %v", got)
	}
	if m.Total() != 60000 {
		t.Errorf("total %d, want 60000", m.Total())
	}
}

func TestMeterYoungAndIdle(t *testing.T) {
	m := NewMeter(20*time.Second, t0)
	m.Add(t0.Add(200*time.Millisecond), 5000)
	if got := m.Rate(t0.Add(500 * time.Millisecond)); !near(got, 5000) {
		t.Errorf("5000 bytes in the first second: rate %v, want 5000", got)
	}
	if got := m.Rate(t0.Add(4 * time.Second)); !near(got, 1250) {
		t.Errorf("5000 bytes over a 4-s-old meter: rate %v, want 1250", got)
	}
	if got := m.Rate(t0.Add(10 * time.Second)); !near(got, 500) {
		t.Errorf("rate at 10 s = %v, want 500", got)
	}
	if got := m.Rate(t0.Add(25 * time.Second)); got != 0 {
		t.Errorf("rate after the window passed = %v, want 0", got)
	}
	// A bucket reused after wrapping around forgets its old count.
	m.Add(t0.Add(40*time.Second), 100)
	if got := m.Rate(t0.Add(40500 * time.Millisecond)); !near(got, 100/19.5) {
		t.Errorf("rate at 40.5 s after 100 bytes at 40 s = %v, want 100/19.5 (19 whole seconds and half of this one)", got)
	}
}

func TestAccountingStats(t *testing.T) {
	a := NewAccounting(10*time.Second, t0)
	now := t0
	for range 100 { // every 100 ms for 10 s
		a.Uploaded("b", 200, now)
		a.Downloaded("a", 50, now)
		a.Downloaded("b", 10, now)
		now = now.Add(100 * time.Millisecond)
	}
	now = now.Add(-time.Millisecond)
	stats := a.Stats(now)
	if len(stats) != 2 || stats[0].ID != "a" || stats[1].ID != "b" {
		t.Fatalf("stats %+v, want peers a and b in order", stats)
	}
	b := stats[1]
	if b.Uploaded != 20000 || b.Downloaded != 1000 || !within(b.UpRate, 2000, 0.01) || !within(b.DownRate, 100, 0.01) {
		t.Errorf("b: %+v, want 20000 up at 2000/s, 1000 down at 100/s", b)
	}
	a.Remove("b")
	if _, ok := a.Peer("b", now); ok {
		t.Error("removed peer still reported")
	}
	tot := a.Totals(now)
	if tot.Uploaded != 20000 || tot.Downloaded != 6000 {
		t.Errorf("totals %+v, want 20000 up and 6000 down including the removed peer", tot)
	}
	js, err := json.Marshal(stats[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"id":`, `"uploaded":0`, `"downloaded":5000`, `"up_rate":0`, `"down_rate":50`} {
		if !strings.Contains(string(js), key) {
			t.Errorf("JSON %s lacks %s", js, key)
		}
	}
	if _, ok := a.Peer(peer.ID("never"), now); ok {
		t.Error("unknown peer reported")
	}
}

func TestAccountingConcurrent(t *testing.T) {
	a := NewAccounting(0, t0)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			id := peer.ID(fmt.Sprint(g % 2))
			for k := range 1000 {
				now := t0.Add(time.Duration(k) * time.Millisecond)
				a.Uploaded(id, 10, now)
				a.Downloaded(id, 1, now)
				if k%100 == 0 {
					a.Stats(now)
				}
			}
		})
	}
	wg.Wait()
	tot := a.Totals(t0.Add(time.Second))
	if tot.Uploaded != 40000 || tot.Downloaded != 4000 {
		t.Errorf("totals after concurrent updates: %+v, want 40000 up, 4000 down", tot)
	}
}

// Prune folds idle peers, then the least recently active beyond the bound,
// into Departed; Totals do not change.
func TestAccountingPrune(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a := NewAccounting(0, t0)
	a.Uploaded("old", 100, t0)
	a.Downloaded("mid", 50, t0.Add(5*time.Minute))
	a.Uploaded("new", 7, t0.Add(9*time.Minute))
	a.Downloaded("newest", 3, t0.Add(10*time.Minute))
	before := a.Totals(t0.Add(10 * time.Minute))
	a.Prune(t0.Add(10*time.Minute), 10*time.Minute, 2)
	var ids []peer.ID
	for _, ps := range a.Stats(t0.Add(10 * time.Minute)) {
		ids = append(ids, ps.ID)
	}
	if len(ids) != 2 || ids[0] != "new" || ids[1] != "newest" {
		t.Fatalf("after prune: %v", ids)
	}
	if d := a.Departed(); d.Uploaded != 100 || d.Downloaded != 50 {
		t.Fatalf("departed %+v", d)
	}
	after := a.Totals(t0.Add(10 * time.Minute))
	if after.Uploaded != before.Uploaded || after.Downloaded != before.Downloaded {
		t.Fatalf("totals changed: %+v -> %+v", before, after)
	}
}
