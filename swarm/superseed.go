package swarm

import (
	"cmp"
	"maps"
	"math/rand/v2"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"
)

// SuperSeedMode chooses when a seeder super-seeds (Config.SuperSeed).
type SuperSeedMode int

const (
	// SuperSeedAuto super-seeds a root whose serving session starts while
	// the node's upload is capped: its upload is the swarm's bottleneck,
	// so no leaf should go out twice before the swarm has it once. A
	// priced node does not: it sells its upload, and a paying peer gets
	// every leaf it pays for.
	SuperSeedAuto SuperSeedMode = iota
	// SuperSeedOn always super-seeds a kept root.
	SuperSeedOn
	// SuperSeedOff never does.
	SuperSeedOff
)

// superSeedOffers is how many leaves a peer is told of at once and not yet
// seen spread (libtorrent keeps two super-seed pieces per peer): one to
// download while the other spreads.
const superSeedOffers = 2

// superSeeder decides which leaves a seeder in super-seeding mode tells each
// peer it has, as libtorrent's super-seeding does: the seeder announces no
// leaf in its bitfield, then tells each peer (with Have) of leaves no other
// peer was told of yet, rarest first, and tells a peer of a new leaf only
// once it saw one it told that peer of spread: another peer announced it.
// A peer may request only the leaves it was told of. So the seeder's first
// uploads are all distinct leaves, and its capped upload goes to leaves the
// swarm lacks, which the peers then trade among themselves.
//
// A leaf told of also counts as spread when no other peer of the session
// lacks it (there is nobody to spread it to, e.g. a lone downloader), so a
// seeder never stalls a peer it alone can serve.
//
// It is a pure state machine like the Picker: no clock, no I/O, randomness
// from the injected rng (the tiebreak order, drawn once). It is not safe
// for concurrent use.
type superSeeder struct {
	n int
	// told counts the peers each leaf was told to; avail the session peers
	// that have it.
	told  []int32
	avail []int32
	prio  []uint32
	peers map[peer.ID]*superPeer
}

type superPeer struct {
	has  *Bitfield
	told *Bitfield
	// waiting lists the leaves told to the peer not yet seen spread, in
	// the order told.
	waiting []int
}

func newSuperSeeder(n int, rng *rand.Rand) *superSeeder {
	s := &superSeeder{n: n, told: make([]int32, n), avail: make([]int32, n),
		prio: make([]uint32, n), peers: make(map[peer.ID]*superPeer)}
	for i, v := range rng.Perm(n) {
		s.prio[i] = uint32(v)
	}
	return s
}

// reveal is a leaf to tell a peer of (a Have message).
type reveal struct {
	peer  peer.ID
	index int
}

// AddPeer records a peer's bitfield (the seeder keeps its own copy) and
// returns the leaves to tell it of.
func (s *superSeeder) AddPeer(id peer.ID, has *Bitfield) []reveal {
	if _, ok := s.peers[id]; ok || has.Len() != s.n {
		return nil
	}
	sp := &superPeer{has: has.Clone(), told: NewBitfield(s.n)}
	s.peers[id] = sp
	for i := sp.has.NextSet(0); i >= 0; i = sp.has.NextSet(i + 1) {
		s.avail[i]++
	}
	return s.settle()
}

// PeerHas records that the peer announced leaf i and returns the leaves to
// tell peers of now: to every other peer that was told of i and waits for
// it to spread, a new one.
func (s *superSeeder) PeerHas(id peer.ID, i int) []reveal {
	sp, ok := s.peers[id]
	if !ok || i < 0 || i >= s.n || !sp.has.Set(i) {
		return nil
	}
	s.avail[i]++
	return s.settle()
}

// RemovePeer forgets a peer that left; a leaf only it lacked counts as
// spread for the others now.
func (s *superSeeder) RemovePeer(id peer.ID) []reveal {
	sp, ok := s.peers[id]
	if !ok {
		return nil
	}
	delete(s.peers, id)
	for i := sp.has.NextSet(0); i >= 0; i = sp.has.NextSet(i + 1) {
		s.avail[i]--
	}
	return s.settle()
}

// Told reports whether the peer was told of leaf i: whether it may
// request it.
func (s *superSeeder) Told(id peer.ID, i int) bool {
	sp, ok := s.peers[id]
	return ok && i >= 0 && i < s.n && sp.told.Has(i)
}

// settle drops from every peer's waiting list the leaves that spread and
// tops each list up to superSeedOffers, peers in ID order.
func (s *superSeeder) settle() []reveal {
	var out []reveal
	for _, id := range slices.Sorted(maps.Keys(s.peers)) {
		sp := s.peers[id]
		sp.waiting = slices.DeleteFunc(sp.waiting, func(i int) bool { return s.spread(sp, i) })
		for len(sp.waiting) < superSeedOffers {
			i, ok := s.next(sp)
			if !ok {
				break
			}
			sp.told.Set(i)
			s.told[i]++
			sp.waiting = append(sp.waiting, i)
			out = append(out, reveal{peer: id, index: i})
		}
	}
	return out
}

// spread reports whether leaf i, told to sp, is out in the swarm: another
// peer has it, or sp has it and no other peer lacks it.
func (s *superSeeder) spread(sp *superPeer, i int) bool {
	if !sp.has.Has(i) {
		return s.avail[i] > 0
	}
	others := s.avail[i] - 1
	return others > 0 || others == int32(len(s.peers)-1)
}

// next picks the leaf to tell sp of: one it lacks and was not told of,
// told to the fewest peers, then held by the fewest, then in the random
// tiebreak order.
func (s *superSeeder) next(sp *superPeer) (int, bool) {
	best, found := 0, false
	for i := range s.n {
		if sp.has.Has(i) || sp.told.Has(i) {
			continue
		}
		if !found || cmp.Or(cmp.Compare(s.told[i], s.told[best]), cmp.Compare(s.avail[i], s.avail[best]),
			cmp.Compare(s.prio[i], s.prio[best])) < 0 {
			best, found = i, true
		}
	}
	return best, found
}
