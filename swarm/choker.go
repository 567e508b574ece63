package swarm

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// ChokerConfig sets the choker's policy. A zero field takes its default.
type ChokerConfig struct {
	// Slots is the number of regular unchoke slots (default 4). One more
	// slot is the optimistic unchoke.
	Slots int
	// RechokeInterval is how often the regular slots are recomputed
	// (default 10 s).
	RechokeInterval time.Duration
	// OptimisticInterval is how long a peer holds the optimistic slot
	// (default 30 s).
	OptimisticInterval time.Duration
	// SnubTimeout is how long a peer may send us nothing before it is
	// snubbed: eligible only for the optimistic slot (default 60 s).
	SnubTimeout time.Duration
	// NewPeerWindow is how long after connecting a peer counts as new for
	// the optimistic draw (default 60 s: the time after which it could be
	// snubbed, so every peer is judged only after it had a fair chance).
	NewPeerWindow time.Duration
	// NewPeerWeight is how much likelier a new peer is to win the optimistic
	// draw than an old one (default 3).
	NewPeerWeight int
	// TrialLeaves is how many leaves a peer may take on the optimistic
	// slot without sending us anything before it fails its trial (default
	// 4; see Sent).
	TrialLeaves int
	// Priced: we charge for what we upload (see Payments in the package
	// doc). Regular slots then go only to peers that pay (SetPaying) or
	// that gave us something (bytes or payments, Received and Paid),
	// ranked by what they gave in the interval as when downloading, also
	// while seeding; everyone else can hold only the optimistic slot,
	// which rotates as when downloading.
	Priced bool
}

// DefaultChokerConfig returns the defaults of DESIGN.md.
func DefaultChokerConfig() ChokerConfig {
	return ChokerConfig{
		Slots:              4,
		RechokeInterval:    10 * time.Second,
		OptimisticInterval: 30 * time.Second,
		SnubTimeout:        60 * time.Second,
		NewPeerWindow:      60 * time.Second,
		NewPeerWeight:      3,
		TrialLeaves:        4,
	}
}

func (c ChokerConfig) withDefaults() (ChokerConfig, error) {
	d := DefaultChokerConfig()
	if c.Slots < 0 || c.RechokeInterval < 0 || c.OptimisticInterval < 0 ||
		c.SnubTimeout < 0 || c.NewPeerWindow < 0 || c.NewPeerWeight < 0 || c.TrialLeaves < 0 {
		return c, fmt.Errorf("choker config %+v: negative value", c)
	}
	if c.Slots == 0 {
		c.Slots = d.Slots
	}
	if c.RechokeInterval == 0 {
		c.RechokeInterval = d.RechokeInterval
	}
	if c.OptimisticInterval == 0 {
		c.OptimisticInterval = d.OptimisticInterval
	}
	if c.SnubTimeout == 0 {
		c.SnubTimeout = d.SnubTimeout
	}
	if c.NewPeerWindow == 0 {
		c.NewPeerWindow = d.NewPeerWindow
	}
	if c.NewPeerWeight == 0 {
		c.NewPeerWeight = d.NewPeerWeight
	}
	if c.TrialLeaves == 0 {
		c.TrialLeaves = d.TrialLeaves
	}
	return c, nil
}

// Decision tells the caller to send a choke (Unchoke false) or unchoke
// message to Peer.
type Decision struct {
	Peer    peer.ID
	Unchoke bool
}

// Slot says why a peer is unchoked.
type Slot int

const (
	// SlotNone: the peer is choked.
	SlotNone Slot = iota
	// SlotRegular: the peer holds a regular slot (tit-for-tat, or a turn of
	// the round robin when seeding).
	SlotRegular
	// SlotOptimistic: the peer holds the optimistic slot.
	SlotOptimistic
)

func (s Slot) String() string {
	switch s {
	case SlotNone:
		return "choked"
	case SlotRegular:
		return "regular"
	case SlotOptimistic:
		return "optimistic"
	}
	return fmt.Sprintf("Slot(%d)", int(s))
}

type chokerPeer struct {
	id         peer.ID
	joined     time.Time
	interested bool
	slot       Slot
	// lastRecv is when the peer last sent us data (joined until it does).
	lastRecv time.Time
	// recv is what the peer sent us since the last rechoke, prevRecv what
	// it sent in the interval before.
	recv, prevRecv int64
	// sent is everything we sent the peer; lastSlot the last time it held a
	// slot (at a rechoke or when unchoked). Both order the seeding round robin.
	sent     int64
	lastSlot time.Time
	// tiebreak orders peers that are otherwise equal; drawn from the rng
	// at every ranking.
	tiebreak uint64
	// wanted: we are interested in the peer (it has leaves we lack).
	wanted bool
	// unpaid counts the leaves we sent the peer on the optimistic slot
	// since it last sent us data; failedTrials the trials it has failed
	// in a row (see Sent). Until benchedUntil it may not hold the
	// optimistic slot.
	unpaid       int
	failedTrials int
	benchedUntil time.Time
	// pays: the peer said it pays for what it gets and has not fallen
	// behind (SetPaying); gave: it sent us data or a payment.
	pays, gave bool
}

// Choker decides which peers of one session we upload to. It is a pure state
// machine: the caller reports events (peers joining and leaving, interest,
// bytes moved) and calls Tick; every method returns the choke and unchoke
// messages to send, in a deterministic order (chokes first, each sorted by
// peer ID). It reads no clock and starts no goroutine. It is not safe for
// concurrent use.
type Choker struct {
	cfg     ChokerConfig
	rng     *rand.Rand
	peers   map[peer.ID]*chokerPeer
	seeding bool

	nextRechoke    time.Time
	nextOptimistic time.Time
}

// ErrUnknownPeer is returned for an event about a peer the choker or picker
// was not told about.
var ErrUnknownPeer = errors.New("unknown peer")

// NewChoker returns a choker whose timers start at now. rng supplies every
// random choice, so a seeded rng makes the choker deterministic.
func NewChoker(cfg ChokerConfig, rng *rand.Rand, now time.Time) (*Choker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("new choker: %w", err)
	}
	if rng == nil {
		return nil, errors.New("new choker: nil rng")
	}
	return &Choker{
		cfg:            cfg,
		rng:            rng,
		peers:          make(map[peer.ID]*chokerPeer),
		nextRechoke:    now.Add(cfg.RechokeInterval),
		nextOptimistic: now.Add(cfg.OptimisticInterval),
	}, nil
}

// Config returns the choker's configuration with defaults filled in.
func (c *Choker) Config() ChokerConfig { return c.cfg }

// AddPeer registers a newly connected peer. It starts choked and not
// interested. Adding a known peer does nothing.
func (c *Choker) AddPeer(id peer.ID, now time.Time) {
	if _, ok := c.peers[id]; ok {
		return
	}
	c.peers[id] = &chokerPeer{id: id, joined: now, lastRecv: now}
}

// RemovePeer forgets a peer that left; its slot goes to another peer at once.
func (c *Choker) RemovePeer(id peer.ID, now time.Time) []Decision {
	p, ok := c.peers[id]
	if !ok {
		return nil
	}
	prev := c.slots()
	delete(c.peers, id)
	if p.slot == SlotNone {
		return nil
	}
	c.fill(now)
	return c.diff(prev, now)
}

// SetInterested records whether the peer wants data from us. A peer that
// loses interest is choked and its slot given away at once; one that gains
// interest is unchoked at once if a slot is free.
func (c *Choker) SetInterested(id peer.ID, interested bool, now time.Time) ([]Decision, error) {
	p, ok := c.peers[id]
	if !ok {
		return nil, fmt.Errorf("set interest of %s: %w", id, ErrUnknownPeer)
	}
	if p.interested == interested {
		return nil, nil
	}
	p.interested = interested
	prev := c.slots()
	if !interested {
		p.slot = SlotNone
	}
	c.fill(now)
	return c.diff(prev, now), nil
}

// Received records n bytes of block data the peer sent us: it counts towards
// the peer's upload rate and clears a snub and its failed trials.
func (c *Choker) Received(id peer.ID, n int, now time.Time) {
	if p, ok := c.peers[id]; ok && n > 0 {
		p.recv += int64(n)
		p.lastRecv = now
		p.gave = true
		p.unpaid, p.failedTrials, p.benchedUntil = 0, 0, time.Time{}
	}
}

// Paid records a payment worth n bytes at our price: it counts as n bytes
// the peer sent us (Received), so a paying peer ranks as a fast uploader
// does, and it takes a free regular slot at once.
func (c *Choker) Paid(id peer.ID, n int, now time.Time) []Decision {
	if _, ok := c.peers[id]; !ok || n <= 0 {
		return nil
	}
	c.Received(id, n, now)
	prev := c.slots()
	c.fill(now)
	return c.diff(prev, now)
}

// SetPaying records whether the peer pays for what it gets (it said so
// in its handshake, and has not fallen behind). When priced, a paying
// peer may hold a regular slot before its first payment, and one that
// stops paying loses its regular slot at once.
func (c *Choker) SetPaying(id peer.ID, pays bool, now time.Time) []Decision {
	p, ok := c.peers[id]
	if !ok || p.pays == pays || !c.cfg.Priced {
		return nil
	}
	p.pays = pays
	prev := c.slots()
	if !pays && p.slot == SlotRegular {
		p.slot = SlotNone
	}
	c.fill(now)
	return c.diff(prev, now)
}

// Pays reports whether the peer pays for what it gets (SetPaying).
func (c *Choker) Pays(id peer.ID) bool {
	p, ok := c.peers[id]
	return ok && p.pays
}

// roundRobin reports whether the slots go round robin: when seeding for
// free. Otherwise they go by what peers gave, with an optimistic slot.
func (c *Choker) roundRobin() bool { return c.seeding && !c.cfg.Priced }

// SetWanted records whether we are interested in the peer's data. An
// optimistic trial only counts against a peer that had something to give.
func (c *Choker) SetWanted(id peer.ID, wanted bool) {
	if p, ok := c.peers[id]; ok {
		p.wanted = wanted
	}
}

// FailedTrials returns how many optimistic trials in a row the peer has
// failed (see Sent).
func (c *Choker) FailedTrials(id peer.ID) int {
	if p, ok := c.peers[id]; ok {
		return p.failedTrials
	}
	return 0
}

// Sent records a leaf of n bytes we sent the peer; bytes order the seeding
// round robin.
//
// While downloading, the optimistic slot is a trial: it lets a peer show
// that it gives back. A peer that has been sent TrialLeaves leaves on it
// since it last sent us anything fails the trial, if it is old enough to
// be judged (NewPeerWindow) or has leaves we want (SetWanted): brand-new
// peers with nothing to offer are who the slot is for. A peer that fails
// is benched from the optimistic slot for 1, 4, then 16
// OptimisticIntervals and loses the slot at once: Sent returns the
// decisions that choke it and unchoke another peer, if any is eligible.
// Anything the peer sends clears its record (Received).
// Counting leaves rather than time matters: a free-rider that is the only
// peer wanting our new leaves can take each one within a second of
// unchoking, and would never run up trial time.
func (c *Choker) Sent(id peer.ID, n int, now time.Time) []Decision {
	p, ok := c.peers[id]
	if !ok || n <= 0 {
		return nil
	}
	p.sent += int64(n)
	if c.roundRobin() || p.slot != SlotOptimistic || p.pays {
		return nil
	}
	if !p.wanted && now.Sub(p.joined) < c.cfg.NewPeerWindow {
		return nil
	}
	if p.unpaid++; p.unpaid < c.cfg.TrialLeaves {
		return nil
	}
	p.unpaid = 0
	p.failedTrials++
	p.benchedUntil = now.Add(c.cfg.OptimisticInterval << min(2*(p.failedTrials-1), 4))
	prev := c.slots()
	c.pickOptimistic(now)
	return c.diff(prev, now)
}

// Benched reports whether the peer is barred from the optimistic slot for
// failed trials.
func (c *Choker) Benched(id peer.ID, now time.Time) bool {
	p, ok := c.peers[id]
	return ok && p.benched(now)
}

func (p *chokerPeer) benched(now time.Time) bool { return now.Before(p.benchedUntil) }

// SetSeeding switches between downloading (tit-for-tat) and seeding
// (round robin). The slots are recomputed at once.
func (c *Choker) SetSeeding(seeding bool, now time.Time) []Decision {
	if c.seeding == seeding {
		return nil
	}
	c.seeding = seeding
	return c.rechoke(now)
}

// Tick runs the timers: a rechoke every RechokeInterval and, when
// downloading, a new optimistic unchoke every OptimisticInterval. Call it
// about once a second; it does nothing between deadlines.
func (c *Choker) Tick(now time.Time) []Decision {
	var out []Decision
	if !now.Before(c.nextRechoke) {
		out = c.rechoke(now)
	}
	if !c.roundRobin() && !now.Before(c.nextOptimistic) {
		prev := c.slots()
		c.pickOptimistic(now)
		out = mergeDecisions(out, c.diff(prev, now))
	}
	return out
}

// Slot returns the slot the peer holds (SlotNone when choked or unknown).
func (c *Choker) Slot(id peer.ID) Slot {
	if p, ok := c.peers[id]; ok {
		return p.slot
	}
	return SlotNone
}

// Optimistic returns the holder of the optimistic slot, or "" if none.
func (c *Choker) Optimistic() peer.ID {
	for _, p := range c.peers {
		if p.slot == SlotOptimistic {
			return p.id
		}
	}
	return ""
}

// Snubbed reports whether the peer has sent us nothing for SnubTimeout.
// Snubbing only matters while downloading.
func (c *Choker) Snubbed(id peer.ID, now time.Time) bool {
	p, ok := c.peers[id]
	return ok && c.snubbed(p, now)
}

func (c *Choker) snubbed(p *chokerPeer, now time.Time) bool {
	return now.Sub(p.lastRecv) >= c.cfg.SnubTimeout
}

// rechoke recomputes the regular slots: when downloading, the Slots fastest
// uploaders of the last interval among the interested, unsnubbed peers;
// when seeding, Slots+1 interested peers in round-robin order. It resets the
// interval's byte counts.
func (c *Choker) rechoke(now time.Time) []Decision {
	prev := c.slots()
	c.nextRechoke = now.Add(c.cfg.RechokeInterval)
	ranked := c.rank(now, false)
	for _, p := range c.peers {
		if p.slot != SlotNone {
			p.lastSlot = now
		}
		if p.slot == SlotRegular || c.roundRobin() {
			p.slot = SlotNone
		}
	}
	n := min(c.regularSlots(), len(ranked))
	for _, p := range ranked[:n] {
		p.slot = SlotRegular // a promoted optimistic peer gives up that slot
	}
	for _, p := range c.peers {
		p.prevRecv, p.recv = p.recv, 0
	}
	if !c.roundRobin() && c.Optimistic() == "" {
		c.pickOptimistic(now)
	}
	return c.diff(prev, now)
}

// fill gives free regular slots to the best ranked peers without touching
// the peers that hold slots, and draws an optimistic peer if that slot is
// free.
func (c *Choker) fill(now time.Time) {
	free := c.regularSlots()
	for _, p := range c.peers {
		if p.slot == SlotRegular {
			free--
		}
	}
	for _, p := range c.rank(now, true) {
		if free <= 0 {
			break
		}
		if p.slot == SlotNone {
			p.slot = SlotRegular
			free--
		}
	}
	if !c.roundRobin() && c.Optimistic() == "" {
		c.pickOptimistic(now)
	}
}

func (c *Choker) regularSlots() int {
	if c.roundRobin() {
		return c.cfg.Slots + 1 // no optimistic slot: the round robin gives everyone a turn
	}
	return c.cfg.Slots
}

// rank returns the peers eligible for a regular slot, best first.
//
// Downloading: interested, not snubbed; most bytes received in the interval
// that just ended first (when filling a slot between rechokes, in that
// interval and the current one, so a slot freed right after a rechoke still
// goes to the fastest); among equals the holders of regular slots first
// (less churn), then random.
//
// Seeding: interested; fewest bytes sent first, then the one that held a
// slot longest ago, then random.
//
// Priced (downloading or seeding): as downloading, but only peers that
// pay or gave us something are eligible, and a paying peer is never
// snubbed (it may pay less often than SnubTimeout at a low rate; it loses
// SetPaying if it falls behind).
func (c *Choker) rank(now time.Time, between bool) []*chokerPeer {
	var out []*chokerPeer
	rr := c.roundRobin()
	for _, p := range c.sortedPeers() {
		p.tiebreak = c.rng.Uint64()
		if c.eligible(p, now, rr) {
			out = append(out, p)
		}
	}
	if rr {
		slices.SortFunc(out, func(a, b *chokerPeer) int {
			return cmp.Or(cmp.Compare(a.sent, b.sent),
				a.lastSlot.Compare(b.lastSlot),
				cmp.Compare(a.tiebreak, b.tiebreak))
		})
		return out
	}
	uploaded := func(p *chokerPeer) int64 {
		if between {
			return p.prevRecv + p.recv
		}
		return p.recv
	}
	slices.SortFunc(out, func(a, b *chokerPeer) int {
		return cmp.Or(cmp.Compare(uploaded(b), uploaded(a)),
			cmp.Compare(b.holdsRegular(), a.holdsRegular()),
			cmp.Compare(a.tiebreak, b.tiebreak))
	})
	return out
}

// eligible reports whether p may hold a regular slot (see rank).
func (c *Choker) eligible(p *chokerPeer, now time.Time, rr bool) bool {
	switch {
	case !p.interested:
		return false
	case rr:
		return true
	case c.cfg.Priced:
		return p.pays || p.gave && !c.snubbed(p, now)
	}
	return !c.snubbed(p, now)
}

// pickOptimistic draws the optimistic peer among the interested peers that
// hold no regular slot, new peers NewPeerWeight times as likely as old ones.
// The current holder is drawn again only if nobody else can be.
func (c *Choker) pickOptimistic(now time.Time) {
	c.nextOptimistic = now.Add(c.cfg.OptimisticInterval)
	var current *chokerPeer
	var cands []*chokerPeer
	total := 0
	for _, p := range c.sortedPeers() {
		if p.slot == SlotOptimistic {
			current = p
			p.slot = SlotNone
			continue
		}
		if p.interested && p.slot == SlotNone && !p.benched(now) {
			cands = append(cands, p)
			total += c.weight(p, now)
		}
	}
	if len(cands) == 0 {
		if current != nil && current.interested && !current.benched(now) {
			current.slot = SlotOptimistic
		}
		return
	}
	r := c.rng.IntN(total)
	for _, p := range cands {
		if r -= c.weight(p, now); r < 0 {
			p.slot = SlotOptimistic
			return
		}
	}
}

func (p *chokerPeer) holdsRegular() int {
	if p.slot == SlotRegular {
		return 1
	}
	return 0
}

func (c *Choker) weight(p *chokerPeer, now time.Time) int {
	if now.Sub(p.joined) < c.cfg.NewPeerWindow {
		return c.cfg.NewPeerWeight
	}
	return 1
}

func (c *Choker) sortedPeers() []*chokerPeer { return byKey(c.peers) }

// slots snapshots which peers hold a slot.
func (c *Choker) slots() map[peer.ID]Slot {
	m := make(map[peer.ID]Slot, len(c.peers))
	for id, p := range c.peers {
		if p.slot != SlotNone {
			m[id] = p.slot
		}
	}
	return m
}

// diff returns the decisions that take the peers from the prev snapshot to
// their current slots, and stamps newly unchoked peers with now.
func (c *Choker) diff(prev map[peer.ID]Slot, now time.Time) []Decision {
	var out []Decision
	for id := range prev {
		if p, ok := c.peers[id]; ok && p.slot == SlotNone {
			out = append(out, Decision{Peer: id})
		}
	}
	for id, p := range c.peers {
		if _, was := prev[id]; !was && p.slot != SlotNone {
			p.lastSlot = now
			out = append(out, Decision{Peer: id, Unchoke: true})
		}
	}
	return sortDecisions(out)
}

// mergeDecisions combines two batches taken one after the other: a peer
// choked then unchoked (or the reverse) cancels out.
func mergeDecisions(a, b []Decision) []Decision {
	last := make(map[peer.ID]int)
	for _, d := range a {
		last[d.Peer] += boolSign(d.Unchoke)
	}
	for _, d := range b {
		last[d.Peer] += boolSign(d.Unchoke)
	}
	var out []Decision
	for id, s := range last {
		if s != 0 {
			out = append(out, Decision{Peer: id, Unchoke: s > 0})
		}
	}
	return sortDecisions(out)
}

func boolSign(b bool) int {
	if b {
		return 1
	}
	return -1
}

func sortDecisions(ds []Decision) []Decision {
	slices.SortFunc(ds, func(a, b Decision) int {
		if a.Unchoke != b.Unchoke {
			if a.Unchoke {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.Peer, b.Peer)
	})
	return ds
}
