package swarm

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// chokerSim drives a Choker second by second and keeps the choke state the
// remote peers would see, checking that every decision makes sense.
type chokerSim struct {
	t        *testing.T
	c        *Choker
	now      time.Time
	unchoked map[peer.ID]bool
	// upload is what each peer sends us per second (whether or not we
	// unchoke it: it is the peer's choice to upload to us).
	upload map[peer.ID]int
}

func newChokerSim(t *testing.T, cfg ChokerConfig, seed uint64) *chokerSim {
	t.Helper()
	c, err := NewChoker(cfg, rand.New(rand.NewPCG(seed, seed)), t0)
	if err != nil {
		t.Fatal(err)
	}
	return &chokerSim{t: t, c: c, now: t0, unchoked: map[peer.ID]bool{}, upload: map[peer.ID]int{}}
}

func (s *chokerSim) apply(ds []Decision) {
	s.t.Helper()
	for _, d := range ds {
		if s.unchoked[d.Peer] == d.Unchoke {
			s.t.Fatalf("%v: decision %+v repeats the peer's state", s.now.Sub(t0), d)
		}
		s.unchoked[d.Peer] = d.Unchoke
	}
	for id, u := range s.unchoked {
		if _, ok := s.c.peers[id]; !ok {
			delete(s.unchoked, id)
			continue
		}
		if got := s.c.Slot(id) != SlotNone; got != u {
			s.t.Fatalf("%v: peer %s: decisions say unchoked=%v, choker says slot %v", s.now.Sub(t0), id, u, s.c.Slot(id))
		}
	}
	if n := s.countUnchoked(); n > s.c.cfg.Slots+1 {
		s.t.Fatalf("%v: %d peers unchoked, at most %d slots", s.now.Sub(t0), n, s.c.cfg.Slots+1)
	}
}

func (s *chokerSim) countUnchoked() int {
	n := 0
	for _, u := range s.unchoked {
		if u {
			n++
		}
	}
	return n
}

func (s *chokerSim) add(id peer.ID, interested bool) {
	s.t.Helper()
	s.c.AddPeer(id, s.now)
	if interested {
		ds, err := s.c.SetInterested(id, true, s.now)
		if err != nil {
			s.t.Fatal(err)
		}
		s.apply(ds)
	}
}

// step advances one second: peers upload to us, then the choker ticks.
func (s *chokerSim) step() {
	s.t.Helper()
	s.now = s.now.Add(time.Second)
	for _, id := range slices.Sorted(maps.Keys(s.upload)) {
		s.c.Received(id, s.upload[id], s.now)
	}
	s.apply(s.c.Tick(s.now))
}

func (s *chokerSim) run(d time.Duration, each func()) {
	s.t.Helper()
	for end := s.now.Add(d); s.now.Before(end); {
		s.step()
		if each != nil {
			each()
		}
	}
}

func (s *chokerSim) regular() []peer.ID {
	var out []peer.ID
	for id := range s.c.peers {
		if s.c.Slot(id) == SlotRegular {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func ids(names ...string) []peer.ID {
	out := make([]peer.ID, len(names))
	for i, n := range names {
		out[i] = peer.ID(n)
	}
	return out
}

func TestChokerUnchokesFastestUploaders(t *testing.T) {
	s := newChokerSim(t, ChokerConfig{}, 1)
	rates := map[string]int{"a": 100, "b": 500, "c": 300, "d": 50, "e": 400, "f": 200}
	for name, r := range rates {
		s.add(peer.ID(name), true)
		s.upload[peer.ID(name)] = r << 10
	}
	s.run(10*time.Second, nil) // first rechoke at 10 s
	if got, want := s.regular(), ids("b", "c", "e", "f"); !slices.Equal(got, want) {
		t.Fatalf("regular slots after the first rechoke = %v, want the four fastest %v", got, want)
	}
	// "d" speeds up to the fastest; at the next rechoke it replaces the
	// slowest holder, "f".
	s.upload["d"] = 1 << 20
	s.run(10*time.Second, nil)
	if got, want := s.regular(), ids("b", "c", "d", "e"); !slices.Equal(got, want) {
		t.Fatalf("regular slots after d sped up = %v, want %v", got, want)
	}
	if s.countUnchoked() != 5 {
		t.Errorf("%d peers unchoked, want 4 regular + 1 optimistic", s.countUnchoked())
	}
}

func TestChokerFreeRiderOnlyGetsOptimisticSlot(t *testing.T) {
	s := newChokerSim(t, ChokerConfig{}, 2)
	for i, name := range []string{"a", "b", "c", "d", "e"} {
		s.add(peer.ID(name), true)
		s.upload[peer.ID(name)] = (i + 1) << 16
	}
	s.add("freerider", true)
	optimisticTurns := 0
	s.run(10*time.Minute, func() {
		switch s.c.Slot("freerider") {
		case SlotRegular:
			t.Fatalf("%v: the free rider holds a regular slot", s.now.Sub(t0))
		case SlotOptimistic:
			optimisticTurns++
		}
	})
	t.Logf("free rider optimistically unchoked %d of 600 s, never in a regular slot", optimisticTurns)
	if optimisticTurns == 0 {
		t.Error("the free rider never got the optimistic slot in 10 minutes")
	}
	// It gets roughly its share of the optimistic slot, which it splits
	// with "a", the slowest uploader: half of 10 minutes, give or take.
	if optimisticTurns < 200 || optimisticTurns > 400 {
		t.Errorf("free rider optimistically unchoked %d of 600 s, want about 300", optimisticTurns)
	}
}

func TestChokerSnubsSilentPeer(t *testing.T) {
	s := newChokerSim(t, ChokerConfig{Slots: 2}, 3)
	s.add("a", true)
	s.add("b", true)
	s.upload["a"] = 1 << 20
	s.upload["b"] = 1 << 20
	if got := s.regular(); !slices.Equal(got, ids("a", "b")) {
		t.Fatalf("free slots not filled at once: regular = %v", got)
	}
	s.run(20*time.Second, nil)
	delete(s.upload, "b") // b stops sending at 20 s
	s.run(59*time.Second, nil)
	if s.c.Snubbed("b", s.now) {
		t.Fatalf("b snubbed after %v of silence, want 60 s", s.now.Sub(t0.Add(20*time.Second)))
	}
	s.step()
	if !s.c.Snubbed("b", s.now) {
		t.Fatal("b not snubbed after 60 s of silence")
	}
	s.run(10*time.Second, nil) // a rechoke passes
	if got := s.c.Slot("b"); got == SlotRegular {
		t.Fatalf("snubbed b still holds a regular slot")
	}
	// A new peer that has sent nothing yet is not snubbed: it takes the
	// free regular slot at once, while b may hold only the optimistic one.
	s.add("c", true)
	if got := s.c.Slot("c"); got != SlotRegular {
		t.Fatalf("new peer c got slot %v, want the free regular slot", got)
	}
	if got := s.c.Slot("b"); got == SlotRegular {
		t.Fatalf("snubbed b took a regular slot")
	}
	// b sends again: the snub is lifted and it can win a regular slot back.
	s.upload["b"] = 2 << 20
	s.run(10*time.Second, nil)
	if s.c.Snubbed("b", s.now) || s.c.Slot("b") != SlotRegular {
		t.Errorf("b uploads fastest again: snubbed=%v slot=%v, want a regular slot", s.c.Snubbed("b", s.now), s.c.Slot("b"))
	}
}

func TestChokerOptimisticRotatesEvery30s(t *testing.T) {
	s := newChokerSim(t, ChokerConfig{Slots: 1}, 4)
	s.add("fast", true)
	s.upload["fast"] = 1 << 20
	for i := range 5 {
		s.add(peer.ID(fmt.Sprintf("old%d", i)), true)
	}
	s.run(2*time.Minute, nil) // every peer is now old
	turns := map[peer.ID]int{}
	current := s.c.Optimistic()
	changedAt := s.now
	const rotations = 1000
	for n := 0; n < rotations; {
		s.step()
		o := s.c.Optimistic()
		if o == current {
			continue
		}
		if held := s.now.Sub(changedAt); held != 30*time.Second {
			t.Fatalf("optimistic slot held %v, want 30 s", held)
		}
		if o == "" || o == "fast" {
			t.Fatalf("optimistic slot went to %q", o)
		}
		turns[o]++
		current, changedAt = o, s.now
		n++
	}
	t.Logf("optimistic turns over %d rotations: %v", rotations, turns)
	for i := range 5 {
		id := peer.ID(fmt.Sprintf("old%d", i))
		// Uniform over 5 peers: 200 turns each, sd about 13.
		if turns[id] < 150 || turns[id] > 250 {
			t.Errorf("%s won %d of %d rotations, want about 200", id, turns[id], rotations)
		}
	}
}

func TestChokerNewPeersThreeTimesAsLikely(t *testing.T) {
	// In each trial two old peers and two new ones compete for the
	// optimistic slot when it rotates away from its holder; new peers have
	// weight 3, so they should win 6 of 8 draws.
	const trials = 4000
	rng := rand.New(rand.NewPCG(5, 5))
	newWins := 0
	for range trials {
		c, err := NewChoker(ChokerConfig{Slots: 1}, rng, t0)
		if err != nil {
			t.Fatal(err)
		}
		later := t0.Add(5 * time.Minute)
		for _, id := range ids("fast", "holder", "old1", "old2") {
			c.AddPeer(id, t0)
			c.Received(id, 1, later) // none is snubbed
		}
		c.Received("fast", 1<<20, later)
		c.AddPeer("new1", later)
		c.AddPeer("new2", later)
		// fast takes the only regular slot, holder the optimistic one;
		// the others find both taken.
		for _, id := range ids("fast", "holder", "new2", "old1", "new1", "old2") {
			mustInterest(t, c, id, later)
		}
		if c.Slot("fast") != SlotRegular || c.Optimistic() != "holder" {
			t.Fatalf("setup: fast has %v, optimistic is %q", c.Slot("fast"), c.Optimistic())
		}
		c.Tick(later.Add(30 * time.Second))
		winner := c.Optimistic()
		if winner == "" || winner == "holder" {
			t.Fatalf("rotation gave the optimistic slot to %q", winner)
		}
		if winner == "new1" || winner == "new2" {
			newWins++
		}
	}
	share := float64(newWins) / trials
	t.Logf("new peers won %.3f of %d optimistic draws (2 new at weight 3, 2 old at weight 1)", share, trials)
	// Expected 0.75, standard deviation 0.0068.
	if share < 0.72 || share > 0.78 {
		t.Errorf("new peers won %.3f of optimistic draws, want 0.75 (weight 3)", share)
	}
}

func mustInterest(t *testing.T, c *Choker, id peer.ID, now time.Time) []Decision {
	t.Helper()
	ds, err := c.SetInterested(id, true, now)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestChokerUnchokesAtOnceWhenSlotFrees(t *testing.T) {
	s := newChokerSim(t, ChokerConfig{Slots: 2}, 6)
	for i, name := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		s.add(peer.ID(name), true)
		s.upload[peer.ID(name)] = (7 - i) << 16 // a fastest
	}
	s.run(10*time.Second, nil)
	if got := s.regular(); !slices.Equal(got, ids("a", "b")) {
		t.Fatalf("regular = %v, want [a b]", got)
	}
	opt := s.c.Optimistic()
	// a leaves: its slot goes to the fastest of the rest (c, unless c
	// holds the optimistic slot) with no tick in between.
	ds := s.c.RemovePeer("a", s.now)
	s.apply(ds)
	want := peer.ID("c")
	if opt == "c" {
		want = "d"
	}
	if !slices.Contains(ds, Decision{Peer: want, Unchoke: true}) {
		t.Fatalf("after a left: decisions %v, want an unchoke of %s", ds, want)
	}
	// b loses interest: it is choked and its slot refilled at once.
	ds, err := s.c.SetInterested("b", false, s.now)
	if err != nil {
		t.Fatal(err)
	}
	s.apply(ds)
	if !slices.Contains(ds, Decision{Peer: "b"}) || s.c.Slot("b") != SlotNone {
		t.Fatalf("b lost interest: decisions %v, slot %v; want b choked", ds, s.c.Slot("b"))
	}
	if len(s.regular()) != 2 {
		t.Fatalf("regular slots %v not refilled", s.regular())
	}
	// The optimistic peer leaves: another is drawn at once.
	opt = s.c.Optimistic()
	s.apply(s.c.RemovePeer(opt, s.now))
	if o := s.c.Optimistic(); o == "" || o == opt {
		t.Fatalf("optimistic slot after its holder left: %q", o)
	}
}

func TestChokerSeedingRoundRobin(t *testing.T) {
	s := newChokerSim(t, ChokerConfig{}, 7)
	var peers []peer.ID
	for i := range 9 {
		id := peer.ID(fmt.Sprintf("p%d", i))
		peers = append(peers, id)
		s.add(id, true)
	}
	s.apply(s.c.SetSeeding(true, s.now))
	if s.countUnchoked() != 5 {
		t.Fatalf("seeding: %d unchoked, want 5 (4 slots + the optimistic one)", s.countUnchoked())
	}
	// Our upload of 5 MiB/s is shared by the unchoked peers.
	const upload = 5 << 20
	turns := map[peer.ID]int{}
	s.run(30*time.Minute, func() {
		n := s.countUnchoked()
		for _, id := range peers {
			if s.unchoked[id] {
				s.c.Sent(id, upload/n, s.now)
				turns[id]++
			}
		}
	})
	var lo, hi int64 = 1 << 62, 0
	for _, id := range peers {
		sent := s.c.peers[id].sent
		lo, hi = min(lo, sent), max(hi, sent)
	}
	t.Logf("seeding 30 min, 9 peers: bytes sent from %d to %d; seconds unchoked %v", lo, hi, turns)
	// Every peer is served; the spread of bytes is at most one 10-s turn
	// (1 MiB/s for 10 s) between the most and least served.
	if hi-lo > 10<<20+1 {
		t.Errorf("seeding: bytes sent range from %d to %d, spread above one turn", lo, hi)
	}
	for _, id := range peers {
		if turns[id] < 900 {
			t.Errorf("%s unchoked %d of 1800 s, want about 1000 (5 of 9 slots)", id, turns[id])
		}
	}
}

func TestChokerSeedingFavoursLeastServed(t *testing.T) {
	s := newChokerSim(t, ChokerConfig{Slots: 1}, 8)
	for _, id := range ids("a", "b", "c") {
		s.add(id, true)
	}
	s.c.Sent("a", 300, s.now)
	s.c.Sent("b", 100, s.now)
	s.c.Sent("c", 200, s.now)
	s.apply(s.c.SetSeeding(true, s.now))
	if !s.unchoked["b"] || !s.unchoked["c"] || s.unchoked["a"] {
		t.Errorf("seeding with 2 slots: unchoked %v, want the least served b and c", s.unchoked)
	}
}

func TestChokerRejectsBadConfig(t *testing.T) {
	if _, err := NewChoker(ChokerConfig{Slots: -1}, rand.New(rand.NewPCG(1, 1)), t0); err == nil {
		t.Error("negative slots accepted")
	}
	if _, err := NewChoker(ChokerConfig{}, nil, t0); err == nil {
		t.Error("nil rng accepted")
	}
	c, _ := NewChoker(ChokerConfig{}, rand.New(rand.NewPCG(1, 1)), t0)
	if _, err := c.SetInterested("nobody", true, t0); err == nil {
		t.Error("interest of an unknown peer accepted")
	}
}

func TestChokerDeterministic(t *testing.T) {
	trace := func() []Decision {
		s := newChokerSim(t, ChokerConfig{}, 9)
		var all []Decision
		for i := range 8 {
			id := peer.ID(fmt.Sprintf("p%d", i))
			s.c.AddPeer(id, s.now)
			ds, _ := s.c.SetInterested(id, true, s.now)
			s.apply(ds)
			all = append(all, ds...)
			s.upload[id] = i % 3 << 10
		}
		s.run(5*time.Minute, nil)
		for id := range s.unchoked {
			if s.unchoked[id] {
				all = append(all, Decision{Peer: id, Unchoke: true})
			}
		}
		slices.SortFunc(all, func(a, b Decision) int { return cmpDecision(a, b) })
		return all
	}
	if a, b := trace(), trace(); !slices.Equal(a, b) {
		t.Errorf("same seed, different decisions:\n%v\n%v", a, b)
	}
}

func cmpDecision(a, b Decision) int {
	if a.Peer != b.Peer {
		if a.Peer < b.Peer {
			return -1
		}
		return 1
	}
	if a.Unchoke == b.Unchoke {
		return 0
	}
	if a.Unchoke {
		return 1
	}
	return -1
}

// The optimistic slot is a trial: a peer old enough to be judged that
// takes TrialLeaves leaves without sending anything back loses the slot
// at once and is benched for 1, 4, then 16 optimistic intervals; a byte
// from it clears the record.
func TestChokerBenchesFailedTrials(t *testing.T) {
	s := newChokerSim(t, ChokerConfig{Slots: 1, TrialLeaves: 2}, 11)
	s.add("up", true)
	s.upload["up"] = 1000     // reciprocates: holds the regular slot
	s.add("rider", true)      // takes, never gives
	s.run(2*time.Minute, nil) // past the new-peer window
	if s.c.Slot("up") != SlotRegular || s.c.Optimistic() != "rider" {
		t.Fatalf("setup: up has %v, optimistic is %q", s.c.Slot("up"), s.c.Optimistic())
	}
	iv := s.c.Config().OptimisticInterval
	for k, bench := range []time.Duration{iv, 4 * iv, 16 * iv, 16 * iv} {
		if ds := s.c.Sent("rider", 100, s.now); len(ds) != 0 {
			t.Fatalf("trial %d: first leaf already ends the trial: %+v", k, ds)
		}
		ds := s.c.Sent("rider", 100, s.now)
		s.apply(ds)
		if s.unchoked["rider"] || s.c.FailedTrials("rider") != k+1 || !s.c.Benched("rider", s.now) {
			t.Fatalf("trial %d: after two unpaid leaves: unchoked %v, failed %d, benched %v",
				k, s.unchoked["rider"], s.c.FailedTrials("rider"), s.c.Benched("rider", s.now))
		}
		start := s.now
		for s.c.Optimistic() != "rider" {
			s.step()
			if s.c.Optimistic() != "rider" && s.unchoked["rider"] {
				t.Fatalf("trial %d: rider unchoked while benched", k)
			}
			if s.now.Sub(start) > bench+iv {
				t.Fatalf("trial %d: still benched after %v, bench is %v", k, s.now.Sub(start), bench)
			}
		}
		if waited := s.now.Sub(start); waited < bench {
			t.Fatalf("trial %d: optimistic again after %v, bench is %v", k, waited, bench)
		}
	}
	// It gives something back: its record is cleared.
	s.c.Received("rider", 10, s.now)
	if s.c.FailedTrials("rider") != 0 || s.c.Benched("rider", s.now) {
		t.Fatalf("after it sent data: failed %d, benched %v", s.c.FailedTrials("rider"), s.c.Benched("rider", s.now))
	}
}

// A new peer we want nothing from is not judged: the optimistic slot is
// there to give it its first leaves.
func TestChokerDoesNotJudgeNewPeers(t *testing.T) {
	s := newChokerSim(t, ChokerConfig{Slots: 1, TrialLeaves: 1}, 12)
	s.add("up", true)
	s.upload["up"] = 1000
	s.step()
	s.add("newbie", true)
	s.run(10*time.Second, nil)
	if s.c.Optimistic() != "newbie" {
		t.Fatalf("optimistic is %q", s.c.Optimistic())
	}
	for range 10 {
		s.apply(s.c.Sent("newbie", 100, s.now))
	}
	if s.c.FailedTrials("newbie") != 0 || !s.unchoked["newbie"] {
		t.Fatalf("new peer judged: failed %d, unchoked %v", s.c.FailedTrials("newbie"), s.unchoked["newbie"])
	}
	// Once we want its leaves, it is judged even while new.
	s.c.SetWanted("newbie", true)
	s.apply(s.c.Sent("newbie", 100, s.now))
	if s.c.FailedTrials("newbie") != 1 || s.unchoked["newbie"] {
		t.Fatalf("wanted new peer: failed %d, unchoked %v", s.c.FailedTrials("newbie"), s.unchoked["newbie"])
	}
}
