package swarm

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

func newTestPicker(t testing.TB, n int, cfg PickerConfig, seed uint64) *Picker {
	t.Helper()
	p, err := NewPicker(NewBitfield(n), cfg, rand.New(rand.NewPCG(seed, 1)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// bitsOf returns a bitfield of n leaves with the given leaves set.
func bitsOf(n int, leaves ...int) *Bitfield {
	b := NewBitfield(n)
	for _, i := range leaves {
		b.Set(i)
	}
	return b
}

func rangeBits(n, from, to int) *Bitfield {
	b := NewBitfield(n)
	for i := from; i < to; i++ {
		b.Set(i)
	}
	return b
}

func mustAddPeer(t testing.TB, p *Picker, id peer.ID, has *Bitfield) {
	t.Helper()
	if err := p.AddPeer(id, has); err != nil {
		t.Fatal(err)
	}
}

func mustReceive(t testing.TB, p *Picker, id peer.ID, i int) []peer.ID {
	t.Helper()
	cancel, err := p.Received(id, i)
	if err != nil {
		t.Fatal(err)
	}
	return cancel
}

func TestPickerRarestFirst(t *testing.T) {
	const n = 20
	// Leaf i is held by (i % 4) + 1 of the peers a, b, c, d, plus the seeder.
	p := newTestPicker(t, n, PickerConfig{RandomFirst: 1}, 1)
	holders := map[peer.ID]*Bitfield{"a": NewBitfield(n), "b": NewBitfield(n), "c": NewBitfield(n), "d": NewBitfield(n)}
	for i := range n {
		for j, id := range ids("a", "b", "c", "d") {
			if j <= i%4 {
				holders[id].Set(i)
			}
		}
	}
	for id, b := range holders {
		mustAddPeer(t, p, id, b)
	}
	mustAddPeer(t, p, "seed", NewFullBitfield(n))
	for i := range n {
		if got, want := p.Availability(i), i%4+2; got != want {
			t.Fatalf("availability of leaf %d = %d, want %d", i, got, want)
		}
	}
	// One random leaf first; receive it so rarest first starts.
	first := p.Pick("seed", 1)
	mustReceive(t, p, "seed", first[0])
	var order []int
	for !p.Done() {
		got := p.Pick("seed", 1)
		if len(got) != 1 {
			t.Fatalf("Pick returned %v with leaves missing", got)
		}
		order = append(order, got[0])
		mustReceive(t, p, "seed", got[0])
	}
	for k := 1; k < len(order); k++ {
		if p.Availability(order[k]) < p.Availability(order[k-1]) {
			t.Fatalf("pick order %v is not rarest first (leaf %d before %d)", order, order[k-1], order[k])
		}
	}
	// Among the rarest (availability 2: leaves 0, 4, 8, ...) the order is
	// random, not index order, for some seed.
	shuffled := false
	for seed := uint64(2); seed < 10 && !shuffled; seed++ {
		q := newTestPicker(t, n, PickerConfig{RandomFirst: 1}, seed)
		mustAddPeer(t, q, "a", holders["a"])
		mustAddPeer(t, q, "seed", NewFullBitfield(n))
		mustReceive(t, q, "seed", q.Pick("seed", 1)[0])
		got := q.Pick("seed", 3)
		shuffled = !slices.IsSorted(got)
	}
	if !shuffled {
		t.Error("equally rare leaves always come in index order: no random tiebreak")
	}
}

func TestPickerRandomFirstCount(t *testing.T) {
	const n = 100
	firstRare := 0
	for seed := range uint64(200) {
		p := newTestPicker(t, n, PickerConfig{}, seed)
		// Leaves 0-9 are rare (one peer), the rest common (two peers).
		mustAddPeer(t, p, "seed", NewFullBitfield(n))
		mustAddPeer(t, p, "half", rangeBits(n, 10, n))
		got := p.Pick("seed", 10)
		if len(got) != 10 {
			t.Fatalf("picked %d leaves, want 10", len(got))
		}
		// The first 4 are random; the next 6 are the rarest.
		for _, i := range got[:4] {
			if i < 10 {
				firstRare++
			}
		}
		for _, i := range got[4:] {
			if i >= 10 {
				t.Fatalf("seed %d: picks %v: leaf %d after the random phase is not among the rarest (0-9)", seed, got, i)
			}
		}
	}
	// 4 random picks of 100 leaves, 10 rare: 10% rare, 80 of 800.
	if firstRare < 50 || firstRare > 115 {
		t.Errorf("random first picks hit a rare leaf %d of 800 times, want about 80", firstRare)
	}
}

func TestPickerNeverRequestsWhatPeerLacks(t *testing.T) {
	const n = 300
	rng := rand.New(rand.NewPCG(42, 42))
	p := newTestPicker(t, n, PickerConfig{}, 3)
	has := map[peer.ID]*Bitfield{}
	var names []peer.ID
	for k := range 8 {
		id := peer.ID(fmt.Sprintf("p%d", k))
		b := NewBitfield(n)
		for i := range n {
			if rng.IntN(3) == 0 {
				b.Set(i)
			}
		}
		has[id], names = b, append(names, id)
		mustAddPeer(t, p, id, b)
	}
	for step := 0; !p.Done(); step++ {
		if step > 100000 {
			t.Fatalf("no progress: have %d of %d", p.Have().Count(), n)
		}
		id := names[rng.IntN(len(names))]
		switch r := rng.IntN(10); {
		case r < 4:
			before := p.Pending(id)
			got := p.Pick(id, 1+rng.IntN(4))
			if p.Pending(id) != before+len(got) {
				t.Fatalf("pick %v from %s: pending went from %d to %d (a leaf picked twice)", got, id, before, p.Pending(id))
			}
			for _, i := range got {
				if !has[id].Has(i) {
					t.Fatalf("picked leaf %d from %s, which lacks it", i, id)
				}
				if p.Have().Has(i) {
					t.Fatalf("picked leaf %d, which we have", i)
				}
			}
		case r < 8:
			if p.Pending(id) == 0 {
				continue
			}
			i := pendingOf(p, id)[rng.IntN(p.Pending(id))]
			if rng.IntN(5) == 0 {
				p.Failed(id, i)
			} else {
				mustReceive(t, p, id, i)
			}
		default:
			// The peer gets a new leaf.
			i := rng.IntN(n)
			has[id].Set(i)
			if err := p.PeerHas(id, i); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func pendingOf(p *Picker, id peer.ID) []int {
	return slices.Sorted(maps.Keys(p.peers[id].pending))
}

func TestPickerEndgameDuplicatesAndCancels(t *testing.T) {
	const n = 8
	p := newTestPicker(t, n, PickerConfig{EndgamePeers: 2}, 4)
	for _, id := range ids("a", "b", "c", "d", "e") {
		mustAddPeer(t, p, id, NewFullBitfield(n))
	}
	for range 5 {
		mustReceive(t, p, "a", p.Pick("a", 1)[0])
	}
	if p.Endgame() {
		t.Fatal("endgame with unrequested leaves left")
	}
	got := p.Pick("a", 10)
	if len(got) != 3 {
		t.Fatalf("a picked %v, want the 3 missing leaves", got)
	}
	if !p.Endgame() {
		t.Fatal("not in endgame once every missing leaf is requested")
	}
	// Strict end game: an idle peer is asked for one leaf already requested
	// elsewhere, the least requested; a peer with requests outstanding is
	// asked for nothing more.
	dups := map[peer.ID]int{}
	for _, id := range ids("b", "c", "d") {
		dup := p.Pick(id, 10)
		if len(dup) != 1 || !slices.Contains(got, dup[0]) {
			t.Fatalf("endgame: idle %s picked %v, want one of %v", id, dup, got)
		}
		for other, i := range dups {
			if i == dup[0] {
				t.Fatalf("endgame: %s and %s both picked leaf %d while others had one requester", other, id, i)
			}
		}
		dups[id] = dup[0]
		if again := p.Pick(id, 10); len(again) != 0 {
			t.Fatalf("endgame: %s, with a request outstanding, picked %v more", id, again)
		}
	}
	if dup := p.Pick("e", 10); len(dup) != 0 {
		t.Fatalf("endgame: e picked %v though each leaf is already requested from 2 peers", dup)
	}
	if dup := p.Pick("a", 10); len(dup) != 0 {
		t.Fatalf("endgame: a was asked twice for the same leaves: %v", dup)
	}
	// b's leaf arrives from b: cancel it at a.
	leaf := dups["b"]
	cancel := mustReceive(t, p, "b", leaf)
	if !slices.Equal(cancel, ids("a")) {
		t.Fatalf("cancels for leaf %d = %v, want [a]", leaf, cancel)
	}
	// A late copy from a is not accepted twice.
	if _, err := p.Received("a", leaf); !errors.Is(err, ErrNotRequested) {
		t.Fatalf("duplicate after cancel: err = %v, want ErrNotRequested", err)
	}
	// A failed endgame request frees a place for e.
	p.Failed("c", dups["c"])
	if dup := p.Pick("e", 10); !slices.Equal(dup, []int{dups["c"]}) {
		t.Fatalf("after c failed leaf %d, e picked %v", dups["c"], dup)
	}
	for _, i := range got {
		if i != leaf {
			mustReceive(t, p, "a", i)
		}
	}
	if !p.Done() || p.Endgame() {
		t.Fatalf("done=%v endgame=%v after every leaf arrived", p.Done(), p.Endgame())
	}
	for _, id := range ids("a", "b", "c", "d", "e") {
		if p.Pending(id) != 0 {
			t.Errorf("%s still has %d pending requests after completion", id, p.Pending(id))
		}
	}
}

func TestPickerPeerDeparture(t *testing.T) {
	const n = 10
	p := newTestPicker(t, n, PickerConfig{RandomFirst: 1}, 5)
	mustAddPeer(t, p, "a", NewFullBitfield(n))
	mustAddPeer(t, p, "b", rangeBits(n, 0, 5))
	taken := p.Pick("a", 3)
	dropped := p.RemovePeer("a")
	slices.Sort(taken)
	if !slices.Equal(dropped, taken) {
		t.Fatalf("RemovePeer returned %v, want the pending leaves %v", dropped, taken)
	}
	for i := range n {
		want := 0
		if i < 5 {
			want = 1
		}
		if p.Availability(i) != want {
			t.Errorf("availability of leaf %d after a left = %d, want %d", i, p.Availability(i), want)
		}
	}
	// b can now be asked for every leaf it has, including those a held.
	got := p.Pick("b", 10)
	slices.Sort(got)
	if !slices.Equal(got, []int{0, 1, 2, 3, 4}) {
		t.Errorf("b picked %v, want [0 1 2 3 4]", got)
	}
	if _, err := p.Received("a", taken[0]); !errors.Is(err, ErrUnknownPeer) {
		t.Errorf("leaf from a departed peer: err = %v, want ErrUnknownPeer", err)
	}
}

func TestPickerResumeAndInterest(t *testing.T) {
	have := rangeBits(6, 0, 4)
	p, err := NewPicker(have, PickerConfig{}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	have.Set(4) // the picker keeps its own copy
	mustAddPeer(t, p, "old", rangeBits(6, 0, 4))
	mustAddPeer(t, p, "new", rangeBits(6, 3, 6))
	if p.Interesting("old") || !p.Interesting("new") {
		t.Errorf("interesting: old=%v new=%v, want false true", p.Interesting("old"), p.Interesting("new"))
	}
	got := p.Pick("new", 10)
	slices.Sort(got)
	if !slices.Equal(got, []int{4, 5}) {
		t.Errorf("resumed download picked %v, want only the missing [4 5]", got)
	}
}

func TestPickerRejectsBadInput(t *testing.T) {
	p := newTestPicker(t, 10, PickerConfig{}, 1)
	if err := p.AddPeer("a", NewBitfield(9)); !errors.Is(err, ErrBadBitfieldLen) {
		t.Errorf("short bitfield: err = %v", err)
	}
	mustAddPeer(t, p, "a", NewBitfield(10))
	if err := p.AddPeer("a", NewBitfield(10)); !errors.Is(err, ErrKnownPeer) {
		t.Errorf("peer added twice: err = %v", err)
	}
	if err := p.PeerHas("a", 10); !errors.Is(err, ErrLeafRange) {
		t.Errorf("have of leaf 10 of 10: err = %v", err)
	}
	if err := p.PeerHas("zz", 1); !errors.Is(err, ErrUnknownPeer) {
		t.Errorf("have from unknown peer: err = %v", err)
	}
	if _, err := p.Received("a", 3); !errors.Is(err, ErrNotRequested) {
		t.Errorf("unrequested leaf: err = %v", err)
	}
	if got := p.Pick("zz", 3); got != nil {
		t.Errorf("pick for unknown peer: %v", got)
	}
}

func BenchmarkPickerPick(b *testing.B) {
	for _, n := range []int{512, 16384, 262144} {
		b.Run(fmt.Sprintf("%dleaves", n), func(b *testing.B) {
			p := newTestPicker(b, n, PickerConfig{}, 1)
			rng := rand.New(rand.NewPCG(2, 2))
			for k := range 30 {
				has := NewBitfield(n)
				for i := range n {
					if rng.IntN(2) == 0 {
						has.Set(i)
					}
				}
				mustAddPeer(b, p, peer.ID(fmt.Sprint(k)), has)
			}
			b.ReportAllocs()
			for b.Loop() {
				got := p.Pick("7", 8)
				for _, i := range got {
					p.Failed("7", i)
				}
			}
		})
	}
}

func TestPickerMarkHave(t *testing.T) {
	p := newTestPicker(t, 4, PickerConfig{}, 1)
	mustAddPeer(t, p, "a", NewFullBitfield(4))
	got := p.Pick("a", 4)
	// The store wrote leaf got[0]'s bytes at another index too (same CID):
	// the request for that index is cancelled.
	cancel, err := p.MarkHave(got[1])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cancel, ids("a")) || p.Pending("a") != 3 || !p.Have().Has(got[1]) {
		t.Fatalf("MarkHave: cancel %v, pending %d, have %s", cancel, p.Pending("a"), p.Have())
	}
	if _, err := p.Received("a", got[1]); !errors.Is(err, ErrNotRequested) {
		t.Errorf("leaf after MarkHave: err = %v, want ErrNotRequested", err)
	}
	if _, err := p.MarkHave(4); !errors.Is(err, ErrLeafRange) {
		t.Errorf("MarkHave(4) of 4: err = %v", err)
	}
}
