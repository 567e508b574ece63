package swarm

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestCostOfRoundsUpAndSaturates(t *testing.T) {
	cases := []struct {
		n     int64
		price uint64
		want  uint64
	}{
		{0, 1000, 0},
		{1 << 20, 0, 0},
		{1 << 20, 1000, 1000},
		{1, 1000, 1}, // a byte of a priced MiB costs a base unit
		{1<<20 + 1, 1000, 1001},
		{4 << 20, 3, 12},
		{3 << 19, 3, 5}, // 1.5 MiB at 3: 4.5, rounded up
		{math.MaxInt64, math.MaxUint64, math.MaxUint64},
		{1 << 40, 1 << 43, 1 << 63},
	}
	for _, c := range cases {
		if got := costOf(c.n, c.price); got != c.want {
			t.Errorf("costOf(%d, %d) = %d, want %d", c.n, c.price, got, c.want)
		}
	}
	// The cost of a sum is at most the sum of the costs: charging leaf by
	// leaf and paying cumulatively never disagree by more than rounding.
	var sum uint64
	var total int64
	for i := range 1000 {
		n := int64(i*7919%262144 + 1)
		total += n
		sum += costOf(n, 77)
	}
	if c := costOf(total, 77); c > sum || sum-c > 1000 {
		t.Errorf("cost of the total %d, sum of the costs %d", c, sum)
	}
}

func TestBytesForInvertsCostOf(t *testing.T) {
	for _, price := range []uint64{1, 3, 1000, 1 << 30} {
		for _, amount := range []uint64{0, 1, 999, 1 << 20} {
			n := bytesFor(amount, price)
			if costOf(int64(n), price) > amount {
				t.Errorf("bytesFor(%d, %d) = %d, which costs %d", amount, price, n, costOf(int64(n), price))
			}
		}
	}
	if got := bytesFor(math.MaxUint64, 1); got != math.MaxInt {
		t.Errorf("bytesFor saturates to %d, want MaxInt", got)
	}
	if got := bytesFor(5, 0); got != 0 {
		t.Errorf("bytesFor at price 0 = %d", got)
	}
}

// TestPayBookServesAheadOfPaymentsThenWaits: a paying peer is served
// payCredit ahead of its payments; past that a leaf waits for a payment,
// and a wait that runs out marks the peer behind until it pays.
func TestPayBookServesAheadOfPaymentsThenWaits(t *testing.T) {
	const price = 1000
	clock := newFakeClock()
	b := newPayBook(price)
	p := peer.ID("payer")
	ctx := context.Background()
	b.join(p)
	const leaf = 1 << 20
	for i := range payCredit / leaf {
		if err := b.charge(ctx, clock, p, leaf, time.Second); err != nil {
			t.Fatalf("leaf %d within the credit: %v", i, err)
		}
	}
	// The next leaf waits: a payment lets it through.
	got := make(chan error, 1)
	go func() { got <- b.charge(ctx, clock, p, leaf, 15*time.Second) }()
	waitWaiters(t, clock, 1)
	b.credit(p, costOf(leaf, price))
	if err := <-got; err != nil {
		t.Fatalf("leaf after a payment: %v", err)
	}
	// Without a payment the wait runs out: unpaid, and at once after.
	go func() { got <- b.charge(ctx, clock, p, leaf, 15*time.Second) }()
	waitWaiters(t, clock, 2) // the first wait's timer is still set
	clock.Advance(15 * time.Second)
	if err := <-got; !errors.Is(err, errUnpaid) {
		t.Fatalf("leaf without a payment: %v, want errUnpaid", err)
	}
	if err := b.charge(ctx, clock, p, leaf, 15*time.Second); !errors.Is(err, errUnpaid) {
		t.Fatalf("leaf of a peer behind: %v, want errUnpaid at once", err)
	}
	// A leaf of unknown size is never waited for.
	if err := b.charge(ctx, clock, p, leaf, 0); !errors.Is(err, errUnpaid) {
		t.Fatalf("unknown-size leaf over the credit: %v", err)
	}
	b.credit(p, 2*costOf(leaf, price))
	if err := b.charge(ctx, clock, p, leaf, time.Second); err != nil {
		t.Fatalf("leaf after paying up: %v", err)
	}
	e := Earnings{Charged: b.charged, Paid: b.paid}
	if e.Charged != payCredit+2*leaf || e.Paid != 3*price {
		t.Fatalf("earnings %+v", e)
	}
	// The account is kept while the peer owes; a settled one is dropped.
	b.leave(p)
	if b.accts[p] == nil {
		t.Fatal("the account of a peer that owes was dropped")
	}
	b.join(p)
	b.credit(p, costOf(b.accts[p].charged, price)-b.accts[p].paid)
	b.leave(p)
	if b.accts[p] != nil {
		t.Fatal("a settled account was kept after its peer left")
	}
}

// waitWaiters waits until n timers are set on the fake clock.
func waitWaiters(t *testing.T, c *fakeClock, n int) {
	t.Helper()
	deadline := time.After(hangGuard)
	for {
		if k, _ := c.pending(); k >= n {
			return
		}
		select {
		case <-c.added:
		case <-deadline:
			t.Fatal("nobody waits on the clock")
		}
	}
}

// TestPricedChokerSellsRegularSlots: with a price, paying peers hold the
// regular slots before they paid anything and rank by payments, free
// peers only get the optimistic slot, and a peer that falls behind loses
// its slot at once.
func TestPricedChokerSellsRegularSlots(t *testing.T) {
	s := newChokerSim(t, ChokerConfig{Priced: true}, 1)
	s.apply(s.c.SetSeeding(true, s.now))
	for _, id := range ids("f1", "f2", "f3") {
		s.add(id, true)
	}
	if got := s.regular(); len(got) != 0 {
		t.Fatalf("free peers hold regular slots %v", got)
	}
	if s.c.Optimistic() == "" {
		t.Fatal("no optimistic slot for free peers")
	}
	for _, id := range ids("p1", "p2") {
		s.c.AddPeer(id, s.now)
		s.apply(s.c.SetPaying(id, true, s.now))
		ds, err := s.c.SetInterested(id, true, s.now)
		if err != nil {
			t.Fatal(err)
		}
		s.apply(ds)
	}
	want := ids("p1", "p2")
	if got := s.regular(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("regular slots %v, want the paying peers %v", got, want)
	}
	// A minute of rotation: the free peers share the optimistic slot,
	// the payers keep theirs.
	opt := map[peer.ID]bool{}
	s.run(2*time.Minute, func() {
		opt[s.c.Optimistic()] = true
		s.apply(s.c.Paid("p1", 1<<20, s.now))
		if got := s.regular(); len(got) != 2 {
			t.Fatalf("%v: regular slots %v", s.now.Sub(t0), got)
		}
	})
	if len(opt) < 2 || opt["p1"] || opt["p2"] {
		t.Fatalf("optimistic slot went to %v", opt)
	}
	// p2 falls behind: it is choked at once, and a free peer gets no
	// regular slot in its place.
	s.apply(s.c.SetPaying("p2", false, s.now))
	if got := s.regular(); len(got) != 1 || got[0] != "p1" {
		t.Fatalf("regular slots after p2 fell behind: %v", got)
	}
	// Unpriced, the same calls change nothing.
	free := newChokerSim(t, ChokerConfig{}, 1)
	free.add("x", true)
	if ds := free.c.SetPaying("x", true, free.now); ds != nil || free.c.Pays("x") {
		t.Fatal("an unpriced choker took a peer's word that it pays")
	}
}
