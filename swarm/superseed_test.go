package swarm

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

// tells maps each peer to the leaves it was told of.
func tells(rs []reveal) map[peer.ID][]int {
	out := map[peer.ID][]int{}
	for _, r := range rs {
		out[r.peer] = append(out[r.peer], r.index)
	}
	return out
}

func TestSuperSeederTellsEachLeafOnceFirst(t *testing.T) {
	const n, peers = 32, 8
	s := newSuperSeeder(n, rand.New(rand.NewPCG(3, 4)))
	seen := map[int]peer.ID{}
	for k := range peers {
		id := peer.ID(fmt.Sprint("p", k))
		rs := s.AddPeer(id, NewBitfield(n))
		if len(rs) != superSeedOffers {
			t.Fatalf("%s was told of %d leaves, want %d", id, len(rs), superSeedOffers)
		}
		for _, r := range rs {
			if other, dup := seen[r.index]; dup {
				t.Fatalf("leaf %d told to %s and to %s while %d leaves were told to no one", r.index, other, r.peer, n-len(seen))
			}
			seen[r.index] = r.peer
		}
	}
	// A leaf told to no one is refused; a told one is not.
	for i := range n {
		owner, told := seen[i]
		for k := range peers {
			id := peer.ID(fmt.Sprint("p", k))
			if got := s.Told(id, i); got != (told && owner == id) {
				t.Fatalf("Told(%s, %d) = %v", id, i, got)
			}
		}
	}
}

func TestSuperSeederNewLeafOnlyOnceSpread(t *testing.T) {
	const n = 16
	s := newSuperSeeder(n, rand.New(rand.NewPCG(5, 6)))
	a, b := peer.ID("a"), peer.ID("b")
	ta := tells(s.AddPeer(a, NewBitfield(n)))[a]
	tb := tells(s.AddPeer(b, NewBitfield(n)))[b]
	if len(ta) != 2 || len(tb) != 2 {
		t.Fatalf("told a %v, b %v", ta, tb)
	}
	// a got its leaf, b still lacks it: a waits.
	if rs := s.PeerHas(a, ta[0]); len(rs) != 0 {
		t.Fatalf("a got leaf %d, nobody else has it, and yet: %v", ta[0], rs)
	}
	// b announces it: it spread, so a is told of a new leaf, one no peer
	// was told of (b's leaves are told to b).
	rs := tells(s.PeerHas(b, ta[0]))
	if len(rs) != 1 || len(rs[a]) != 1 {
		t.Fatalf("after the leaf spread: %v, want one new leaf for a", rs)
	}
	if i := rs[a][0]; i == ta[0] || i == ta[1] || i == tb[0] || i == tb[1] {
		t.Fatalf("a told of leaf %d again or of one of b's (%v)", i, tb)
	}
	// A lone peer is told of a new leaf once it has one: there is nobody
	// to spread it to.
	s.RemovePeer(b)
	before := len(s.peers[a].waiting)
	if rs := s.PeerHas(a, s.peers[a].waiting[0]); len(rs) != 1 {
		t.Fatalf("a alone, got its leaf: told %v (waiting %d before)", rs, before)
	}
}

// With super-seeding a seeder whose upload is capped sends distinct leaves
// first, and the leechers get the rest from one another.
func TestSuperSeedFirstUploadsDistinct(t *testing.T) {
	n := newTestNet(t, false)
	var mu sync.Mutex
	var order []int
	var to []peer.ID
	seed := n.node("seed", Config{MaxUpload: 2 << 20, SuperSeed: SuperSeedOn, served: func(p peer.ID, i int) {
		mu.Lock()
		order = append(order, i)
		to = append(to, p)
		mu.Unlock()
	}})
	const leaves, nLeech = 64, 6
	data := randomBytes(t, leaves*16<<10)
	root := n.share(seed, data, 16<<10)
	n.leechAll(nLeech, root, data)
	mu.Lock()
	defer mu.Unlock()
	// Until every leaf was told to one peer none is told to a second, and
	// a new leaf is told only for one that spread: so the first uploads
	// (well past the first told ones) go each to one peer. (A peer may be
	// sent the same leaf again when it dropped the first copy, e.g. a
	// block that crossed a choke: that is no second copy in the swarm.)
	const first = leaves / 2
	if len(order) < first {
		t.Fatalf("the seeder uploaded %d leaves, fewer than the %d of the file", len(order), leaves)
	}
	seen := map[int]int{}
	again := 0
	for k, i := range order[:first] {
		if j, dup := seen[i]; dup {
			if to[j] != to[k] {
				t.Fatalf("the seeder's uploads %d (to %s) and %d (to %s) are both leaf %d: %v", j, to[j], k, to[k], i, order[:first])
			}
			again++
		}
		seen[i] = k
	}
	if again > 0 {
		t.Logf("%d of the first %d uploads went again to the same peer", again, first)
	}
	t.Logf("the seeder uploaded %d leaves for %d leechers of %d leaves", len(order), nLeech, leaves)
}
