package swarm

import (
	"errors"
	"fmt"
	"maps"
	"math/bits"
	"math/rand/v2"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"
)

// PickerConfig sets the piece picker's policy. A zero field takes its default.
type PickerConfig struct {
	// RandomFirst is how many leaves are picked at random, ignoring rarity,
	// before rarest first starts (default 4): the first leaves should come
	// quickly, so that there is something to trade, and rare leaves are
	// slow to get.
	RandomFirst int
	// EndgamePeers is the most peers one leaf is requested from at once in
	// endgame (default 3).
	EndgamePeers int
}

// DefaultPickerConfig returns the defaults.
func DefaultPickerConfig() PickerConfig {
	return PickerConfig{RandomFirst: 4, EndgamePeers: 3}
}

func (c PickerConfig) withDefaults() (PickerConfig, error) {
	if c.RandomFirst < 0 || c.EndgamePeers < 0 {
		return c, fmt.Errorf("picker config %+v: negative value", c)
	}
	d := DefaultPickerConfig()
	if c.RandomFirst == 0 {
		c.RandomFirst = d.RandomFirst
	}
	if c.EndgamePeers == 0 {
		c.EndgamePeers = d.EndgamePeers
	}
	return c, nil
}

// Errors of the picker.
var (
	// ErrNotRequested: a leaf arrived from a peer it was not requested from
	// (or was requested and then cancelled); the caller drops the data.
	ErrNotRequested = errors.New("leaf not requested from this peer")
	// ErrBadBitfieldLen: a peer's bitfield does not cover the session's leaves.
	ErrBadBitfieldLen = errors.New("bitfield length does not match the leaf count")
	// ErrLeafRange: a leaf index is outside the session.
	ErrLeafRange = errors.New("leaf index out of range")
	// ErrKnownPeer: AddPeer of a peer already added.
	ErrKnownPeer = errors.New("peer already added")
)

type pickerPeer struct {
	has     *Bitfield
	pending map[int]struct{}
}

// Picker decides which leaves of one root to request from which peer. It is
// a pure state machine: the caller reports what peers have, what arrived
// and what failed, and asks Pick for the next requests. It is not safe for
// concurrent use.
//
// Leaves are requested whole: a leaf (at most 1 MiB) is the unit the
// receiver verifies against its CID, so a request is never split into
// sub-blocks from several peers. There are therefore no partly received
// leaves to finish first; the concern behind that BitTorrent rule (a piece
// stuck half-done at a slow peer) is met instead by sizing each peer's
// request queue to its rate (PipelineConfig), by the caller failing a
// request that times out (Failed puts the leaf back at once) and by
// endgame.
type Picker struct {
	cfg   PickerConfig
	n     int
	have  *Bitfield
	avail []int32
	// prio is a random permutation of the leaves: the tiebreak among leaves
	// of equal rarity, and the order of the random first picks.
	prio []uint32
	// requested marks leaves with at least one outstanding request; reqs
	// lists the peers each one is requested from.
	requested *Bitfield
	reqs      map[int][]peer.ID
	peers     map[peer.ID]*pickerPeer
}

// NewPicker returns a picker for a root of have.Len() leaves of which the
// ones set in have are already verified on disk (a resumed download). The
// picker keeps its own copy of have. rng shuffles the tiebreak order once.
func NewPicker(have *Bitfield, cfg PickerConfig, rng *rand.Rand) (*Picker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("new picker: %w", err)
	}
	if rng == nil {
		return nil, errors.New("new picker: nil rng")
	}
	n := have.Len()
	p := &Picker{
		cfg:       cfg,
		n:         n,
		have:      have.Clone(),
		avail:     make([]int32, n),
		prio:      make([]uint32, n),
		requested: NewBitfield(n),
		reqs:      make(map[int][]peer.ID),
		peers:     make(map[peer.ID]*pickerPeer),
	}
	for i, v := range rng.Perm(n) {
		p.prio[i] = uint32(v)
	}
	return p, nil
}

// AddPeer records a peer's bitfield. The picker keeps its own copy.
func (p *Picker) AddPeer(id peer.ID, has *Bitfield) error {
	if _, ok := p.peers[id]; ok {
		return fmt.Errorf("add peer %s: %w", id, ErrKnownPeer)
	}
	if has.Len() != p.n {
		return fmt.Errorf("add peer %s: %d leaves, want %d: %w", id, has.Len(), p.n, ErrBadBitfieldLen)
	}
	pp := &pickerPeer{has: has.Clone(), pending: make(map[int]struct{})}
	p.peers[id] = pp
	for i := pp.has.NextSet(0); i >= 0; i = pp.has.NextSet(i + 1) {
		p.avail[i]++
	}
	return nil
}

// PeerHas records a have message: the peer now holds leaf i.
func (p *Picker) PeerHas(id peer.ID, i int) error {
	pp, ok := p.peers[id]
	if !ok {
		return fmt.Errorf("have from %s: %w", id, ErrUnknownPeer)
	}
	if i < 0 || i >= p.n {
		return fmt.Errorf("have from %s: leaf %d of %d: %w", id, i, p.n, ErrLeafRange)
	}
	if pp.has.Set(i) {
		p.avail[i]++
	}
	return nil
}

// RemovePeer forgets a peer that left: its leaves no longer count towards
// availability and its outstanding requests are dropped, so the leaves can
// be picked from others. It returns those leaves, in order.
func (p *Picker) RemovePeer(id peer.ID) []int {
	pp, ok := p.peers[id]
	if !ok {
		return nil
	}
	delete(p.peers, id)
	for i := pp.has.NextSet(0); i >= 0; i = pp.has.NextSet(i + 1) {
		p.avail[i]--
	}
	dropped := slices.Sorted(maps.Keys(pp.pending))
	for _, i := range dropped {
		p.unrequest(id, i)
	}
	return dropped
}

// Interesting reports whether the peer has a leaf we lack: whether to send
// it interested.
func (p *Picker) Interesting(id peer.ID) bool {
	pp, ok := p.peers[id]
	if !ok {
		return false
	}
	for w, word := range pp.has.words {
		if word&^p.have.words[w] != 0 {
			return true
		}
	}
	return false
}

// Pick chooses up to max leaves to request from the peer and records them
// as requested from it. Only leaves the peer has and we lack are picked:
//
//   - while fewer than RandomFirst leaves are done or requested, at random;
//   - then rarest first (fewest peers have it), random among equals;
//   - in endgame, when every missing leaf is already requested, and only
//     to a peer with no request outstanding: one leaf that is requested
//     from other peers, the one with the fewest requests, each leaf from
//     at most EndgamePeers peers at once (libtorrent's strict end game).
//
// It returns nil for an unknown peer or when there is nothing to request.
func (p *Picker) Pick(id peer.ID, max int) []int {
	pp, ok := p.peers[id]
	if !ok || max <= 0 {
		return nil
	}
	var picked []int
	if k := min(max, p.cfg.RandomFirst-p.have.Count()-p.requested.Count()); k > 0 {
		picked = p.request(id, pp, picked, p.best(pp, k, false, func(i int) uint64 {
			return uint64(p.prio[i])
		}))
	}
	if rest := max - len(picked); rest > 0 {
		picked = p.request(id, pp, picked, p.best(pp, rest, false, func(i int) uint64 {
			return uint64(p.avail[i])<<32 | uint64(p.prio[i])
		}))
	}
	if len(picked) == 0 && len(pp.pending) == 0 && p.Endgame() {
		picked = p.request(id, pp, picked, p.best(pp, 1, true, func(i int) uint64 {
			return uint64(len(p.reqs[i]))<<32 | uint64(p.prio[i])
		}))
	}
	return picked
}

// request records leaves as requested from the peer and appends them to picked.
func (p *Picker) request(id peer.ID, pp *pickerPeer, picked, leaves []int) []int {
	for _, i := range leaves {
		p.requested.Set(i)
		p.reqs[i] = append(p.reqs[i], id)
		pp.pending[i] = struct{}{}
	}
	return append(picked, leaves...)
}

// best returns up to k leaves the peer has and we lack with the smallest
// keys, smallest first. Without endgame it considers only unrequested
// leaves; with endgame only requested ones not yet asked of this peer and
// asked of fewer than EndgamePeers peers.
func (p *Picker) best(pp *pickerPeer, k int, endgame bool, key func(int) uint64) []int {
	type cand struct {
		i   int
		key uint64
	}
	top := make([]cand, 0, k+1)
	for w, word := range pp.has.words {
		word &^= p.have.words[w]
		if endgame {
			word &= p.requested.words[w]
		} else {
			word &^= p.requested.words[w]
		}
		for word != 0 {
			i := w*64 + bits.TrailingZeros64(word)
			word &= word - 1
			if endgame {
				if _, mine := pp.pending[i]; mine || len(p.reqs[i]) >= p.cfg.EndgamePeers {
					continue
				}
			}
			c := cand{i, key(i)}
			if len(top) == k && c.key >= top[k-1].key {
				continue
			}
			at, _ := slices.BinarySearchFunc(top, c.key, func(x cand, key uint64) int {
				if x.key < key {
					return -1
				}
				return 1 // equal keys keep scan order; keys are distinct anyway
			})
			top = slices.Insert(top, at, c)
			if len(top) > k {
				top = top[:k]
			}
		}
	}
	out := make([]int, len(top))
	for j, c := range top {
		out[j] = c.i
	}
	return out
}

// Received records that leaf i arrived from the peer and was verified and
// stored. It returns the other peers the leaf is still requested from, to
// send them a cancel. If the leaf was not requested from this peer (or the
// request was cancelled or failed), it returns ErrNotRequested and changes
// nothing: the caller drops the data.
func (p *Picker) Received(id peer.ID, i int) ([]peer.ID, error) {
	pp, ok := p.peers[id]
	if !ok {
		return nil, fmt.Errorf("leaf %d from %s: %w", i, id, ErrUnknownPeer)
	}
	if _, ok := pp.pending[i]; !ok {
		return nil, fmt.Errorf("leaf %d from %s: %w", i, id, ErrNotRequested)
	}
	var cancel []peer.ID
	for _, other := range p.reqs[i] {
		if other != id {
			cancel = append(cancel, other)
		}
		delete(p.peers[other].pending, i)
	}
	delete(p.reqs, i)
	p.requested.Clear(i)
	p.have.Set(i)
	return cancel, nil
}

// MarkHave records that leaf i is on disk without having been received
// from a requested peer: another index with the same CID was written (the
// store writes a repeated leaf at every index at once), or the leaf came
// through another session. It returns the peers the leaf is requested from,
// to send them a cancel.
func (p *Picker) MarkHave(i int) ([]peer.ID, error) {
	if i < 0 || i >= p.n {
		return nil, fmt.Errorf("mark leaf %d of %d: %w", i, p.n, ErrLeafRange)
	}
	cancel := slices.Clone(p.reqs[i])
	for _, id := range cancel {
		delete(p.peers[id].pending, i)
	}
	delete(p.reqs, i)
	p.requested.Clear(i)
	p.have.Set(i)
	return cancel, nil
}

// Failed records that the request of leaf i from the peer ended without the
// leaf: rejected, cancelled by us, timed out, or the data did not verify.
// The leaf can be picked again at once (from this peer too: the caller
// drops a peer that sent bad data).
func (p *Picker) Failed(id peer.ID, i int) {
	if pp, ok := p.peers[id]; ok {
		if _, ok := pp.pending[i]; ok {
			p.unrequest(id, i)
		}
	}
}

func (p *Picker) unrequest(id peer.ID, i int) {
	if pp, ok := p.peers[id]; ok {
		delete(pp.pending, i)
	}
	rs := slices.DeleteFunc(p.reqs[i], func(x peer.ID) bool { return x == id })
	if len(rs) == 0 {
		delete(p.reqs, i)
		p.requested.Clear(i)
		return
	}
	p.reqs[i] = rs
}

// Endgame reports whether every missing leaf is requested.
func (p *Picker) Endgame() bool {
	return !p.Done() && p.have.Count()+p.requested.Count() == p.n
}

// Done reports whether every leaf is verified.
func (p *Picker) Done() bool { return p.have.Complete() }

// Have returns the leaves verified so far. The caller must not modify it.
func (p *Picker) Have() *Bitfield { return p.have }

// Pending returns how many requests to the peer are outstanding.
func (p *Picker) Pending(id peer.ID) int {
	if pp, ok := p.peers[id]; ok {
		return len(pp.pending)
	}
	return 0
}

// Availability returns how many peers have leaf i.
func (p *Picker) Availability(i int) int {
	if i < 0 || i >= p.n {
		return 0
	}
	return int(p.avail[i])
}
