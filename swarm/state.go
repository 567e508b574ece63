package swarm

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/myco-p2p/myco/chunker"
)

// This file holds the session's decisions: sessionState, a value with no
// locks, no clock reads and no I/O. It is advanced by events (step) and
// returns effects (ready) for the session's executor (session.go) to carry
// out, the way etcd's raft returns a Ready and boxo's sessionWantSender
// consumes change events. Its tests are the scripts in testdata/.

// phase is where a session is in its lifecycle.
type phase int

const (
	phaseQueued    phase = iota // created, not started
	phaseActive                 // finding peers or downloading
	phaseVerifying              // every leaf is in; Finish runs
	phaseSeeding                // serving a kept root (after a download: done)
	phaseBroken                 // serving, but the root's source changed or vanished
	phaseFailed
	phaseCancelled
	phaseStopped // stopped or closed: the partial data stays for a resume
)

// Backoff of re-requests to a peer that rejects or does not deliver.
const (
	backoffMin = time.Second
	backoffMax = 60 * time.Second
)

// Errors a download ends with, beside ErrNoProviders, ErrCancelled,
// ErrStopped and ErrClosed (service.go).
var (
	// ErrNoDelivery: peers that have the root were found, but none
	// delivered a block for the fetch's IdleLimit.
	ErrNoDelivery = errors.New("peers were found but none delivered a block")
	// ErrSourceBroken: the peers that had the root reported that their
	// copy is broken (the sharer's file changed or vanished after it was
	// shared), and no other peer provides it.
	ErrSourceBroken = errors.New("source changed on the sharer")
	// ErrStore: the local store could not take the download (a full disk,
	// a destination that appeared); the fetch fails at once.
	ErrStore = errors.New("cannot write the download")
)

// stateConfig is what a sessionState needs to know of the service's
// configuration and of the fetch.
type stateConfig struct {
	self           peer.ID
	picker         PickerConfig
	pipeline       PipelineConfig
	requestTimeout time.Duration
	pexInterval    time.Duration
	findInterval   time.Duration
	maxPeers       int
	// timeout is the no-provider limit, idleLimit the no-delivery limit.
	timeout, idleLimit time.Duration
	useName            bool
	freeRide           bool
	refuseLeaves       bool // test hook: reject every leaf request as overloaded
	// superSeed: a kept root is super-seeded (superSeeder).
	superSeed bool
}

type nodeReq struct {
	peer peer.ID
	at   time.Time
}

// peerState is what the session knows of one peer.
type peerState struct {
	id             peer.ID
	remoteLeaves   int       // the leaf count the peer announced (0: unknown to it)
	has            *Bitfield // the peer's leaves, once we know the leaf count too
	rawHas         *Bitfield // its bitfield, received before we knew the leaf count
	amChoking      bool
	amInterested   bool
	peerChoking    bool
	peerInterested bool
	inPicker       bool
	pipe           *Pipeline
	reqAt          map[int]time.Time // leaves requested from the peer, and when
	nodeReqs       int
	// broken: the peer said its copy of the root is broken.
	broken bool
	// pays: the peer pays us for what it gets; it closes the stream once
	// it has paid for the last leaves.
	pays bool
	// backoff is the current pause after a reject or a timeout; no
	// request goes to the peer before retryAt.
	backoff time.Duration
	retryAt time.Time
}

// effectKind names what the executor must do.
type effectKind int

const (
	effSend        effectKind = iota // queue msg to peer
	effServe                         // queue ref to be served to peer
	effCancelServe                   // forget a queued ref of peer
	effClearServe                    // forget every queued ref of peer (choked, not interested)
	effStore                         // verify and store the block ref just received from peer
	effDrop                          // reset peer's stream (err says why)
	effClose                         // close peer's stream once its queue is sent
	effBan                           // ban peer from the root (it sent bad data)
	effDial                          // connect to info for this session
	effPex                           // send peer the addresses of peers
	effFind                          // look for providers (connected peers, then routing)
	effProvide                       // announce the root
	effSetDest                       // make name the destination's last element ("" the original)
	effFinish                        // run Fetch.Finish
	effAbort                         // abort the fetch (keep: keep the partial data)
	effMarkBroken                    // mark the root broken (err), log it once
	effDone                          // the download completed (info)
	effEnd                           // the session ends; a running download ends with err
	effNotify                        // progress changed
)

type effect struct {
	kind  effectKind
	peer  peer.ID
	msg   Message
	ref   Ref
	peers []peer.ID
	info  peer.AddrInfo
	name  string
	keep  bool
	err   error
	done  chunker.RootInfo
	level int // for effDrop: 1 when worth a debug line
}

// Events.
type (
	evStart      struct{ now time.Time }
	evPeerJoined struct {
		id     peer.ID
		leaves int
		name   string
		pays   bool // it pays us for what it gets (we are priced)
		now    time.Time
	}
	// evPaid: the peer paid us for n bytes at our price; evUnpaid: it fell
	// behind in payment.
	evPaid struct {
		id  peer.ID
		n   int
		now time.Time
	}
	evUnpaid struct {
		id  peer.ID
		now time.Time
	}
	evPeerLeft struct {
		id  peer.ID
		now time.Time
	}
	evMessage struct {
		id  peer.ID
		msg Message
		now time.Time
	}
	// evBlock: a block arrived from the peer (before it is verified).
	evBlock struct {
		id  peer.ID
		ref Ref
		n   int
		now time.Time
	}
	evLeafStored struct {
		id    peer.ID
		index int
		now   time.Time
	}
	// evNodeStored: an internal node was stored; layout, have and
	// missing are the fetch's after it.
	evNodeStored struct {
		id      peer.ID
		c       cid.Cid
		layout  *chunker.Layout
		have    []bool
		missing []cid.Cid
		now     time.Time
	}
	evBadData struct {
		id  peer.ID
		err error
	}
	evStoreFailed struct {
		err error
		now time.Time
	}
	// evSent: leaf index of n bytes was sent to the peer.
	evSent struct {
		id    peer.ID
		index int
		n     int
		now   time.Time
	}
	evTick struct {
		now   time.Time
		rates map[peer.ID]float64 // download rate per peer
	}
	evCandidate struct{ info peer.AddrInfo }
	evDialDone  struct{ id peer.ID }
	evFinished  struct {
		info chunker.RootInfo
		err  error
		now  time.Time
	}
	evSourceBroken struct{ err error }
	// evStop ends the session with err: Cancel (abort), Stop, Close, Drop.
	evStop struct {
		err   error
		abort bool
		keep  bool
		fail  bool // the download failed for err (Download.Fail)
	}
)

// sessionState is the exchange of one root, as decisions: a download
// (fetching true until Finish succeeds) or a kept root we serve.
type sessionState struct {
	cfg      stateConfig
	root     cid.Cid
	rng      *rand.Rand
	phase    phase
	fetching bool // a download that has not completed
	download bool // the session began as a download

	layout  *chunker.Layout
	byCid   map[cid.Cid][]int
	have    *Bitfield
	bytes   int64
	missing []cid.Cid
	picker  *Picker
	choker  *Choker
	// super is the super-seeding of a kept root (nil when not).
	super *superSeeder

	peers    map[peer.ID]*peerState
	dialing  map[peer.ID]bool
	nodeReqs map[cid.Cid]nodeReq

	received int
	name     string
	named    bool // the destination was changed to the name
	fellBack bool // Finish to the named path failed; back to the original
	reason   string

	lastPex, lastFind time.Time
	// useful is the last time a peer that has the root was in the session;
	// progress the last time a block arrived (or a first peer with the root
	// came), for the idle limit.
	useful, progress time.Time
	everUseful       bool
	brokenSources    int

	out []effect
}

// newSessionState returns the state of a download (fetching) or of a kept
// root we serve. layout may be nil while the internal nodes are missing;
// have says which leaves are on disk.
func newSessionState(cfg stateConfig, root cid.Cid, rng *rand.Rand, choker *Choker, fetching bool,
	layout *chunker.Layout, have []bool, missing []cid.Cid, name string, now time.Time) (*sessionState, error) {
	s := &sessionState{
		cfg: cfg, root: root, rng: rng, choker: choker,
		fetching: fetching, download: fetching,
		missing:  missing,
		peers:    make(map[peer.ID]*peerState),
		dialing:  make(map[peer.ID]bool),
		nodeReqs: make(map[cid.Cid]nodeReq),
		name:     name,
		lastPex:  now, lastFind: now, useful: now, progress: now,
	}
	if fetching {
		s.phase = phaseQueued
	} else {
		s.phase = phaseSeeding
		choker.SetSeeding(true, now)
	}
	if layout != nil {
		if err := s.setLayout(layout, have, now); err != nil {
			return nil, err
		}
	}
	s.out = nil
	return s, nil
}

// ready returns the effects of the events stepped since the last call.
func (s *sessionState) ready() []effect {
	out := s.out
	s.out = nil
	return out
}

func (s *sessionState) emit(e effect)              { s.out = append(s.out, e) }
func (s *sessionState) send(id peer.ID, m Message) { s.emit(effect{kind: effSend, peer: id, msg: m}) }

// ended reports whether the session is over: events change nothing.
func (s *sessionState) ended() bool {
	return s.phase == phaseFailed || s.phase == phaseCancelled || s.phase == phaseStopped
}

// step advances the state by one event.
func (s *sessionState) step(ev any) {
	if s.ended() {
		if ev, ok := ev.(evLeafStored); ok && s.have != nil && ev.index >= 0 && ev.index < s.have.Len() && s.have.Set(ev.index) {
			// A leaf written as the session ended is on disk all the same
			// (a resume finds it): the counts say so.
			s.received++
			s.bytes += max(s.layout.Leaves[ev.index].Size, 0)
		}
		return
	}
	switch ev := ev.(type) {
	case evStart:
		s.start(ev.now)
	case evPeerJoined:
		s.peerJoined(ev)
	case evPeerLeft:
		s.peerLeft(ev.id, ev.now)
	case evMessage:
		ps := s.peers[ev.id]
		if ps == nil {
			return
		}
		if err := s.message(ps, ev.msg, ev.now); err != nil {
			s.dropPeer(ps.id, err)
		}
	case evBlock:
		s.block(ev)
	case evLeafStored:
		s.leafStored(ev.id, ev.index, ev.now)
	case evNodeStored:
		s.nodeStored(ev)
	case evBadData:
		if s.peers[ev.id] != nil {
			s.emit(effect{kind: effBan, peer: ev.id, err: ev.err})
			s.dropPeer(ev.id, ev.err)
		}
	case evStoreFailed:
		if s.fetching {
			s.fail(fmt.Errorf("%w: %w", ErrStore, ev.err))
		}
	case evSent:
		if s.peers[ev.id] != nil {
			s.apply(s.choker.Sent(ev.id, ev.n, ev.now))
			if ps := s.peers[ev.id]; s.super != nil && ps.has != nil && ev.index < ps.has.Len() {
				// The peer has the leaf now (it sends no Have for a
				// leaf it knows we have).
				ps.has.Set(ev.index)
				s.tell(s.super.PeerHas(ev.id, ev.index))
				s.closeIfDone(ps)
			}
		}
	case evPaid:
		if s.peers[ev.id] != nil {
			s.apply(s.choker.Paid(ev.id, ev.n, ev.now))
		}
	case evUnpaid:
		if s.peers[ev.id] != nil {
			s.apply(s.choker.SetPaying(ev.id, false, ev.now))
		}
	case evTick:
		s.tick(ev)
	case evCandidate:
		s.candidate(ev.info)
	case evDialDone:
		delete(s.dialing, ev.id)
	case evFinished:
		s.finished(ev)
	case evSourceBroken:
		s.sourceBroken(ev.err)
	case evStop:
		s.stop(ev)
	default:
		panic(fmt.Sprintf("session state: unknown event %T", ev))
	}
}

func (s *sessionState) start(now time.Time) {
	if s.phase != phaseQueued {
		return
	}
	s.phase = phaseActive
	s.useful, s.progress, s.lastFind, s.lastPex = now, now, now, now
	s.emit(effect{kind: effProvide})
	s.emit(effect{kind: effFind})
	if s.layout != nil && s.have.Complete() {
		s.beginFinish()
	}
	s.notify()
}

func (s *sessionState) notify() { s.emit(effect{kind: effNotify}) }

// leafSize is the usual leaf size of the session, for pipeline sizing.
func (s *sessionState) leafSize() int {
	if s.layout != nil && len(s.layout.Leaves) > 0 && s.layout.Leaves[0].Size > 0 {
		return int(s.layout.Leaves[0].Size)
	}
	return chunker.DefaultChunkSize
}

func (s *sessionState) newPipeline() *Pipeline {
	p, err := NewPipeline(s.cfg.pipeline, s.leafSize())
	if err != nil { // the config was validated in New
		panic(err)
	}
	return p
}

// setLayout installs the leaves once known: the have bitfield, the picker,
// and the bitfields peers sent before we could check them.
func (s *sessionState) setLayout(l *chunker.Layout, have []bool, now time.Time) error {
	n := len(l.Leaves)
	if n > MaxLeaves {
		return fmt.Errorf("session %s: %d leaves, at most %d supported", s.root, n, MaxLeaves)
	}
	s.layout = l
	s.byCid = make(map[cid.Cid][]int, n)
	for i, lf := range l.Leaves {
		s.byCid[lf.Cid] = append(s.byCid[lf.Cid], i)
	}
	if !s.fetching {
		s.have = NewFullBitfield(n)
		s.bytes = max(l.Size, 0)
		if s.cfg.superSeed && !s.download {
			s.super = newSuperSeeder(n, s.rng)
		}
	} else {
		s.have = BitfieldFromBools(have)
		if s.have.Len() != n {
			s.have = NewBitfield(n)
		}
		for i := s.have.NextSet(0); i >= 0; i = s.have.NextSet(i + 1) {
			s.bytes += max(l.Leaves[i].Size, 0)
		}
		p, err := NewPicker(s.have, s.cfg.picker, s.rng)
		if err != nil {
			return err
		}
		s.picker = p
	}
	for _, ps := range s.sortedPeers() {
		ps.pipe = s.newPipeline()
		s.send(ps.id, s.bitfieldMsg())
		if err := s.adoptBitfield(ps); err != nil {
			s.dropPeer(ps.id, err)
		}
	}
	s.requestAll(now)
	return nil
}

// bitfieldMsg is what we announce: everything we hold (nothing for a
// free-rider, nor when super-seeding: Have messages tell each peer of its
// leaves).
func (s *sessionState) bitfieldMsg() *BitfieldMsg {
	if s.cfg.freeRide || s.super != nil {
		return &BitfieldMsg{Have: NewBitfield(s.have.Len())}
	}
	return &BitfieldMsg{Have: s.have.Clone()}
}

// adoptBitfield moves a peer's bitfield received before we knew the leaf
// count into the picker, once we know it.
func (s *sessionState) adoptBitfield(ps *peerState) error {
	if ps.has != nil || ps.rawHas == nil || s.layout == nil {
		return nil
	}
	if ps.rawHas.Len() != len(s.layout.Leaves) {
		return fmt.Errorf("%w: bitfield of %d leaves, the root has %d", errProtocol, ps.rawHas.Len(), len(s.layout.Leaves))
	}
	ps.has, ps.rawHas = ps.rawHas, nil
	if s.super != nil {
		s.tell(s.super.AddPeer(ps.id, ps.has))
	}
	if s.picker != nil && s.fetching && !ps.broken {
		if err := s.picker.AddPeer(ps.id, ps.has); err != nil {
			return err
		}
		ps.inPicker = true
	}
	s.updateInterest(ps)
	s.closeIfDone(ps)
	return nil
}

// closeIfDone closes the stream of a peer that holds every leaf when we
// do too: there is nothing left to trade.
func (s *sessionState) closeIfDone(ps *peerState) {
	if !s.fetching && s.phase == phaseSeeding && !ps.pays && ps.has != nil && ps.has.Complete() && s.have != nil && s.have.Complete() {
		s.emit(effect{kind: effClose, peer: ps.id})
	}
}

// handshake is what we announce on a new stream.
func (s *sessionState) handshake() *Handshake {
	hs := &Handshake{Version: ProtocolVersion, Root: s.root, Name: s.name}
	if s.layout != nil {
		hs.Leaves = len(s.layout.Leaves)
	}
	return hs
}

func (s *sessionState) peerJoined(ev evPeerJoined) {
	if s.peers[ev.id] != nil { // a reconnect: the new stream replaces the old
		s.forget(ev.id, ev.now)
	}
	ps := &peerState{
		id: ev.id, remoteLeaves: ev.leaves,
		amChoking: true, peerChoking: true,
		pipe:  s.newPipeline(),
		reqAt: make(map[int]time.Time),
	}
	s.peers[ev.id] = ps
	delete(s.dialing, ev.id)
	if ev.leaves > 0 {
		s.sawUseful(ev.now)
	}
	if ev.name != "" && s.name == "" && CheckName(ev.name) == nil {
		s.name = ev.name
		if s.fetching && s.cfg.useName && s.phase <= phaseActive {
			s.named = true
			s.emit(effect{kind: effSetDest, name: ev.name})
		}
	}
	if s.layout != nil {
		s.send(ev.id, s.bitfieldMsg())
	}
	if others := s.othersThan(ev.id); len(others) > 0 {
		s.emit(effect{kind: effPex, peer: ev.id, peers: others})
	}
	s.choker.AddPeer(ev.id, ev.now)
	if ev.pays {
		ps.pays = true
		s.apply(s.choker.SetPaying(ev.id, true, ev.now))
	}
	s.requestAll(ev.now)
	s.notify()
}

// provides reports whether the peer has something of the root: the
// leaves when it does not know them yet (it can send the internal nodes),
// at least one leaf once its bitfield is in, and a copy it did not report
// broken.
func (ps *peerState) provides() bool {
	switch {
	case ps.broken:
		return false
	case ps.has != nil:
		return ps.has.Count() > 0
	case ps.rawHas != nil:
		return ps.rawHas.Count() > 0
	}
	return ps.remoteLeaves > 0
}

// sawUseful records that a peer that has the root is in the session.
func (s *sessionState) sawUseful(now time.Time) {
	s.useful = now
	if !s.everUseful {
		s.everUseful = true
		s.progress = now
	}
}

func (s *sessionState) othersThan(id peer.ID) []peer.ID {
	var out []peer.ID
	for _, ps := range s.sortedPeers() {
		if ps.id != id && len(out) < MaxPeersPerMessage {
			out = append(out, ps.id)
		}
	}
	return out
}

// peerLeft forgets a peer whose stream ended; a session serving a kept
// root ends with its last peer.
func (s *sessionState) peerLeft(id peer.ID, now time.Time) {
	if s.peers[id] == nil {
		return
	}
	s.forget(id, now)
	if !s.download && len(s.peers) == 0 {
		s.phase = phaseStopped
		s.emit(effect{kind: effEnd})
	}
	s.notify()
}

// forget removes a peer from the picker, the choker and the requests.
func (s *sessionState) forget(id peer.ID, now time.Time) {
	ps := s.peers[id]
	delete(s.peers, id)
	if s.picker != nil && ps.inPicker {
		s.picker.RemovePeer(id)
	}
	for c, nr := range s.nodeReqs {
		if nr.peer == id {
			delete(s.nodeReqs, c)
		}
	}
	s.apply(s.choker.RemovePeer(id, now))
	if s.super != nil {
		s.tell(s.super.RemovePeer(id))
	}
	s.requestAll(now)
}

// tell sends the Have messages of super-seeding.
func (s *sessionState) tell(rs []reveal) {
	for _, r := range rs {
		if s.peers[r.peer] != nil {
			s.send(r.peer, &Have{Index: r.index})
		}
	}
}

// dropPeer resets a peer's stream; peerLeft follows when its reader ends.
func (s *sessionState) dropPeer(id peer.ID, err error) {
	s.emit(effect{kind: effDrop, peer: id, err: err})
}

// apply sends the choker's decisions.
func (s *sessionState) apply(ds []Decision) {
	for _, d := range ds {
		ps := s.peers[d.Peer]
		if ps == nil {
			continue
		}
		if d.Unchoke {
			if s.cfg.freeRide || !ps.amChoking || s.phase == phaseBroken {
				continue
			}
			ps.amChoking = false
			s.send(ps.id, &Unchoke{})
		} else {
			if ps.amChoking {
				continue
			}
			ps.amChoking = true
			s.emit(effect{kind: effClearServe, peer: ps.id})
			s.send(ps.id, &Choke{})
		}
	}
}

// updateInterest tells the peer whether we want something it has.
func (s *sessionState) updateInterest(ps *peerState) {
	want := s.fetching && s.phase == phaseActive && s.picker != nil && ps.inPicker && s.picker.Interesting(ps.id)
	if want == ps.amInterested {
		return
	}
	ps.amInterested = want
	s.choker.SetWanted(ps.id, want)
	if want {
		s.send(ps.id, &Interested{})
	} else {
		s.send(ps.id, &NotInterested{})
	}
}

// request keeps the peer's request queue at its pipeline depth, unless
// the peer is backing off.
func (s *sessionState) request(ps *peerState, now time.Time) {
	if s.picker == nil || !s.fetching || s.phase != phaseActive || ps.peerChoking || !ps.inPicker || ps.broken {
		return
	}
	if now.Before(ps.retryAt) {
		return
	}
	want := ps.pipe.Depth() - s.picker.Pending(ps.id)
	if want <= 0 {
		return
	}
	for _, i := range s.picker.Pick(ps.id, want) {
		ps.reqAt[i] = now
		s.send(ps.id, &Request{Ref: LeafRef(i)})
	}
}

// requestAll tops up every peer's requests, or asks for internal nodes
// while the leaves are not known yet.
func (s *sessionState) requestAll(now time.Time) {
	if !s.fetching || s.phase != phaseActive {
		return
	}
	if s.layout == nil {
		s.requestNodes(now)
		return
	}
	for _, ps := range s.sortedPeers() {
		s.request(ps, now)
	}
}

// requestNodes asks peers that know the leaves for the internal nodes we
// miss, spreading them over the peers with the fewest outstanding.
func (s *sessionState) requestNodes(now time.Time) {
	var cands []*peerState
	for _, ps := range s.sortedPeers() {
		if ps.remoteLeaves > 0 && !ps.broken && !now.Before(ps.retryAt) {
			cands = append(cands, ps)
		}
	}
	if len(cands) == 0 {
		return
	}
	for _, c := range s.missing {
		if nr, ok := s.nodeReqs[c]; ok && now.Sub(nr.at) < s.cfg.requestTimeout {
			continue
		}
		best := slices.MinFunc(cands, func(a, b *peerState) int { return cmp.Compare(a.nodeReqs, b.nodeReqs) })
		if best.nodeReqs >= maxNodeRequests {
			return
		}
		best.nodeReqs++
		s.nodeReqs[c] = nodeReq{peer: best.id, at: now}
		s.send(best.id, &Request{Ref: NodeRef(c)})
	}
}

func (s *sessionState) sortedPeers() []*peerState { return byKey(s.peers) }

// byKey returns m's values in the order of their keys, so that what the
// pure core does never depends on map order.
func byKey[K cmp.Ordered, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}

// backOff pauses requests to a peer that rejected or did not deliver:
// 1 s, doubling to at most 60 s; a delivered block ends the pause.
func (s *sessionState) backOff(ps *peerState, now time.Time) {
	ps.backoff = min(max(2*ps.backoff, backoffMin), backoffMax)
	ps.retryAt = now.Add(ps.backoff)
}

// message applies one message other than a Block; an error is a protocol
// violation and drops the peer.
func (s *sessionState) message(ps *peerState, m Message, now time.Time) error {
	switch m := m.(type) {
	case *Handshake:
		return fmt.Errorf("%w: second handshake", errProtocol)
	case *BitfieldMsg:
		if ps.has != nil || ps.rawHas != nil {
			return fmt.Errorf("%w: second bitfield", errProtocol)
		}
		ps.rawHas = m.Have
		if ps.remoteLeaves == 0 {
			ps.remoteLeaves = m.Have.Len()
		}
		if ps.provides() {
			s.sawUseful(now)
		}
		if s.layout == nil {
			s.requestAll(now)
		}
		if err := s.adoptBitfield(ps); err != nil {
			return err
		}
		s.request(ps, now)
	case *Have:
		bf := ps.has
		if bf == nil {
			bf = ps.rawHas
		}
		if bf == nil {
			return fmt.Errorf("%w: have before bitfield", errProtocol)
		}
		if m.Index >= bf.Len() {
			return fmt.Errorf("%w: have %d of %d leaves", errProtocol, m.Index, bf.Len())
		}
		if ps.has == nil { // not adopted yet: just record it
			bf.Set(m.Index)
			return nil
		}
		if !ps.has.Set(m.Index) {
			return nil
		}
		if s.super != nil {
			s.tell(s.super.PeerHas(ps.id, m.Index))
		}
		if ps.inPicker {
			if err := s.picker.PeerHas(ps.id, m.Index); err != nil {
				return err
			}
		}
		s.updateInterest(ps)
		s.request(ps, now)
		s.closeIfDone(ps)
	case *Interested:
		ps.peerInterested = true
		ds, err := s.choker.SetInterested(ps.id, true, now)
		if err != nil {
			return err
		}
		s.apply(ds)
	case *NotInterested:
		ps.peerInterested = false
		s.emit(effect{kind: effClearServe, peer: ps.id})
		ds, err := s.choker.SetInterested(ps.id, false, now)
		if err != nil {
			return err
		}
		s.apply(ds)
	case *Choke:
		ps.peerChoking = true
		s.failPending(ps)
		s.requestAll(now)
	case *Unchoke:
		ps.peerChoking = false
		s.request(ps, now)
	case *Request:
		s.onRequest(ps, m.Ref)
	case *Cancel:
		s.emit(effect{kind: effCancelServe, peer: ps.id, ref: m.Ref})
	case *Reject:
		s.onReject(ps, m, now)
	case *Peers:
		for _, info := range m.Peers {
			s.candidate(info)
		}
	case *Block:
		return fmt.Errorf("block handled elsewhere")
	}
	return nil
}

func (s *sessionState) onReject(ps *peerState, m *Reject, now time.Time) {
	if m.Reason == RejectBroken {
		// The peer's copy is broken (its source changed or vanished): it
		// will serve nothing of the root.
		if !ps.broken {
			ps.broken = true
			s.brokenSources++
			if ps.inPicker {
				s.picker.RemovePeer(ps.id)
				ps.inPicker = false
			}
			clear(ps.reqAt)
			for c, nr := range s.nodeReqs {
				if nr.peer == ps.id {
					delete(s.nodeReqs, c)
				}
			}
			s.updateInterest(ps)
			s.emit(effect{kind: effClose, peer: ps.id})
		}
		s.requestAll(now)
		return
	}
	if m.Ref.IsLeaf() {
		if _, ok := ps.reqAt[m.Ref.Index]; ok {
			delete(ps.reqAt, m.Ref.Index)
			if ps.inPicker {
				s.picker.Failed(ps.id, m.Ref.Index)
			}
			if m.Reason != RejectChoked {
				s.backOff(ps, now)
			}
		}
	} else if nr, ok := s.nodeReqs[m.Ref.CID]; ok && nr.peer == ps.id {
		delete(s.nodeReqs, m.Ref.CID)
		ps.nodeReqs--
		s.backOff(ps, now)
	}
	s.requestAll(now)
}

// failPending returns every leaf requested from the peer to the pool.
func (s *sessionState) failPending(ps *peerState) {
	for i := range ps.reqAt {
		if ps.inPicker {
			s.picker.Failed(ps.id, i)
		}
	}
	clear(ps.reqAt)
}

func (s *sessionState) onRequest(ps *peerState, ref Ref) {
	if s.phase == phaseBroken {
		s.send(ps.id, &Reject{Ref: ref, Reason: RejectBroken})
		return
	}
	if ref.IsLeaf() {
		switch {
		case s.layout == nil || ref.Index >= len(s.layout.Leaves) || !s.have.Has(ref.Index) || s.cfg.freeRide,
			s.super != nil && !s.super.Told(ps.id, ref.Index):
			s.send(ps.id, &Reject{Ref: ref, Reason: RejectNotFound})
		case ps.amChoking:
			s.send(ps.id, &Reject{Ref: ref, Reason: RejectChoked})
		case s.cfg.refuseLeaves:
			s.send(ps.id, &Reject{Ref: ref, Reason: RejectOverloaded})
		default:
			s.emit(effect{kind: effServe, peer: ps.id, ref: ref})
		}
		return
	}
	// Internal nodes are metadata, like BitTorrent's info dictionary: they
	// are served unchoked. Only dag-pb nodes are served by CID; leaves go by
	// index, so a peer cannot read arbitrary raw blocks of the store. (The
	// executor checks that the store has the node.)
	if ref.CID.Type() != cid.DagProtobuf || s.cfg.freeRide {
		s.send(ps.id, &Reject{Ref: ref, Reason: RejectNotFound})
		return
	}
	s.emit(effect{kind: effServe, peer: ps.id, ref: ref})
}

// candidate is a peer that may have the root (discovery or peer exchange).
func (s *sessionState) candidate(info peer.AddrInfo) {
	if !s.fetching || s.phase != phaseActive || info.ID == s.cfg.self || info.ID == "" {
		return
	}
	if s.peers[info.ID] != nil || s.dialing[info.ID] || len(s.peers)+len(s.dialing) >= s.cfg.maxPeers {
		return
	}
	s.dialing[info.ID] = true
	s.emit(effect{kind: effDial, info: info})
}

// block is a block arriving from a peer: a leaf or node we asked it for is
// handed to the store (effStore); anything else is dropped.
func (s *sessionState) block(ev evBlock) {
	ps := s.peers[ev.id]
	if ps == nil || !s.fetching || s.phase != phaseActive {
		return
	}
	if !ev.ref.IsLeaf() {
		nr, ok := s.nodeReqs[ev.ref.CID]
		if !ok || nr.peer != ev.id {
			return
		}
		delete(s.nodeReqs, ev.ref.CID)
		ps.nodeReqs--
		s.emit(effect{kind: effStore, peer: ev.id, ref: ev.ref})
		return
	}
	if _, asked := ps.reqAt[ev.ref.Index]; !asked {
		return // cancelled, failed or never asked
	}
	s.choker.Received(ev.id, ev.n, ev.now)
	s.emit(effect{kind: effStore, peer: ev.id, ref: ev.ref})
}

// wantsLeaf reports whether leaf i from the peer is still wanted (its
// request was not cancelled or failed while it waited for the store).
func (s *sessionState) wantsLeaf(id peer.ID, i int) bool {
	ps := s.peers[id]
	if ps == nil || !s.fetching || s.phase != phaseActive {
		return false
	}
	_, ok := ps.reqAt[i]
	return ok
}

// leafStored records a verified leaf: every index with the same CID is
// now on disk too.
func (s *sessionState) leafStored(id peer.ID, i int, now time.Time) {
	if !s.fetching || s.phase != phaseActive || s.picker == nil || i < 0 || i >= s.have.Len() {
		return
	}
	s.received++
	s.progress = now
	ps := s.peers[id]
	var cancels []peer.ID
	var err error
	if ps != nil {
		delete(ps.reqAt, i)
		ps.pipe.Received()
		ps.backoff, ps.retryAt = 0, time.Time{}
		cancels, err = s.picker.Received(id, i)
	}
	if ps == nil || err != nil { // a copy from another peer won the race
		cancels, _ = s.picker.MarkHave(i)
	}
	s.cancelAt(cancels, i)
	s.gotLeaf(i)
	for _, j := range s.byCid[s.layout.Leaves[i].Cid] {
		if j != i && !s.have.Has(j) {
			others, _ := s.picker.MarkHave(j)
			s.cancelAt(others, j)
			s.gotLeaf(j)
		}
	}
	for _, other := range s.sortedPeers() {
		s.updateInterest(other)
	}
	if s.have.Complete() {
		s.beginFinish()
		return
	}
	if ps != nil {
		s.request(ps, now)
	}
	s.notify()
}

func (s *sessionState) gotLeaf(i int) {
	if !s.have.Set(i) {
		return
	}
	s.bytes += max(s.layout.Leaves[i].Size, 0)
	if s.cfg.freeRide {
		return
	}
	// Every peer that lacks a leaf is told, also of leaves it has, as
	// BitTorrent does: a super-seeding seeder (which announced only some
	// leaves) learns from it that the leaf spread.
	for _, ps := range s.sortedPeers() {
		if ps.has == nil || !ps.has.Complete() {
			s.send(ps.id, &Have{Index: i})
		}
	}
}

func (s *sessionState) cancelAt(ids []peer.ID, i int) {
	for _, id := range ids {
		if ps := s.peers[id]; ps != nil {
			delete(ps.reqAt, i)
			s.send(id, &Cancel{Ref: LeafRef(i)})
		}
	}
}

// beginFinish: every leaf is in; the executor verifies and renames.
func (s *sessionState) beginFinish() {
	s.phase = phaseVerifying
	for _, ps := range s.sortedPeers() {
		s.updateInterest(ps)
	}
	s.emit(effect{kind: effFinish})
	s.notify()
}

func (s *sessionState) nodeStored(ev evNodeStored) {
	if !s.fetching || s.phase != phaseActive {
		return
	}
	s.progress = ev.now
	if ps := s.peers[ev.id]; ps != nil {
		ps.backoff, ps.retryAt = 0, time.Time{}
	}
	s.missing = ev.missing
	if s.layout == nil && ev.layout != nil {
		if err := s.setLayout(ev.layout, ev.have, ev.now); err != nil {
			s.fail(fmt.Errorf("%w: %w", ErrStore, err))
			return
		}
		if s.have.Complete() {
			s.beginFinish()
			return
		}
		s.notify()
		return
	}
	s.requestAll(ev.now)
}

func (s *sessionState) finished(ev evFinished) {
	if s.phase != phaseVerifying {
		return
	}
	if ev.err != nil {
		if errors.Is(ev.err, chunker.ErrDestExists) && s.named && !s.fellBack {
			// The name is taken where we would put it: fall back, once, to
			// the destination the fetch was started with.
			s.fellBack = true
			s.emit(effect{kind: effSetDest, name: ""})
			s.emit(effect{kind: effFinish})
			return
		}
		s.fail(fmt.Errorf("%w: %w", ErrStore, ev.err))
		return
	}
	s.fetching = false
	s.phase = phaseSeeding
	s.picker = nil
	for _, ps := range s.sortedPeers() {
		ps.inPicker = false
		clear(ps.reqAt)
		s.updateInterest(ps)
		s.closeIfDone(ps)
	}
	s.apply(s.choker.SetSeeding(true, ev.now))
	s.emit(effect{kind: effDone, done: ev.info})
	s.notify()
}

// fail ends the download with err: its peers are dropped, its partial
// data removed, so that a fetch again starts clean.
func (s *sessionState) fail(err error) {
	s.phase = phaseFailed
	s.reason = err.Error()
	s.end(err, true, false)
}

func (s *sessionState) end(err error, abort, keep bool) {
	for _, ps := range s.sortedPeers() {
		s.dropPeer(ps.id, nil)
	}
	if abort {
		s.emit(effect{kind: effAbort, keep: keep})
	}
	s.emit(effect{kind: effEnd, err: err})
	s.notify()
}

func (s *sessionState) stop(ev evStop) {
	abort := ev.abort && s.fetching
	switch {
	case ev.fail && s.fetching:
		s.phase = phaseFailed
		s.reason = ev.err.Error()
	case errors.Is(ev.err, ErrCancelled) && s.fetching:
		s.phase = phaseCancelled
		s.reason = ""
	default:
		s.phase = phaseStopped
	}
	s.end(ev.err, abort, ev.keep)
}

// sourceBroken: a block of the root we serve cannot be read because its
// source file changed or vanished. We stop serving the root: its peers are
// told (a Reject with RejectBroken to every request) and closed.
func (s *sessionState) sourceBroken(err error) {
	if s.fetching || s.phase == phaseBroken {
		return
	}
	s.phase = phaseBroken
	s.emit(effect{kind: effMarkBroken, err: err})
	for _, ps := range s.sortedPeers() {
		s.emit(effect{kind: effClearServe, peer: ps.id})
		s.emit(effect{kind: effClose, peer: ps.id})
	}
}

// tick runs the periodic work: rechoke, pipeline sizing, request
// timeouts, the no-provider and idle limits, peer exchange, discovery.
func (s *sessionState) tick(ev evTick) {
	now := ev.now
	s.apply(s.choker.Tick(now))
	anyUseful := false
	for _, ps := range s.sortedPeers() {
		if ps.provides() {
			anyUseful = true
		}
		ps.pipe.Tick(ev.rates[ps.id])
		timedOut := false
		for _, i := range sortedKeys(ps.reqAt) {
			if now.Sub(ps.reqAt[i]) >= s.cfg.requestTimeout {
				delete(ps.reqAt, i)
				if ps.inPicker {
					s.picker.Failed(ps.id, i)
				}
				s.send(ps.id, &Cancel{Ref: LeafRef(i)})
				timedOut = true
			}
		}
		for c, nr := range s.nodeReqs {
			if nr.peer == ps.id && now.Sub(nr.at) >= s.cfg.requestTimeout {
				delete(s.nodeReqs, c)
				ps.nodeReqs--
				timedOut = true
			}
		}
		if timedOut {
			ps.pipe.Reset()
			s.backOff(ps, now)
		}
	}
	if anyUseful {
		s.sawUseful(now)
	}
	if s.fetching && s.phase == phaseActive {
		switch {
		case !anyUseful && s.brokenSources > 0 && now.Sub(s.useful) >= min(s.cfg.timeout, s.cfg.idleLimit):
			// Peers were found but none can deliver: the idle limit
			// applies, or the no-provider timeout if it is shorter.
			wait := min(s.cfg.timeout, s.cfg.idleLimit)
			s.fail(fmt.Errorf("%w: %d peer(s) reported that their copy no longer matches the shared file, and no other peer provides the root within %v",
				ErrSourceBroken, s.brokenSources, wait))
			return
		case !anyUseful && now.Sub(s.useful) >= s.cfg.timeout:
			s.fail(fmt.Errorf("%w within %v", ErrNoProviders, s.cfg.timeout))
			return
		case anyUseful && s.everUseful && now.Sub(s.progress) >= s.cfg.idleLimit:
			s.fail(fmt.Errorf("%w for %v", ErrNoDelivery, s.cfg.idleLimit))
			return
		}
	}
	if now.Sub(s.lastPex) >= s.cfg.pexInterval {
		s.lastPex = now
		for _, ps := range s.sortedPeers() {
			if others := s.othersThan(ps.id); len(others) > 0 {
				s.emit(effect{kind: effPex, peer: ps.id, peers: others})
			}
		}
	}
	if s.fetching && s.phase == phaseActive && now.Sub(s.lastFind) >= s.cfg.findInterval && len(s.peers) < s.cfg.maxPeers {
		s.lastFind = now
		s.emit(effect{kind: effFind})
	}
	s.requestAll(now)
	s.notify()
}

func sortedKeys(m map[int]time.Time) []int { return slices.Sorted(maps.Keys(m)) }

// stateName is the lifecycle state SessionStats shows.
func (s *sessionState) stateName() string {
	switch s.phase {
	case phaseQueued:
		return "queued"
	case phaseActive:
		for _, ps := range s.peers {
			if ps.provides() {
				return "downloading"
			}
		}
		return "finding peers"
	case phaseVerifying:
		return "verifying"
	case phaseSeeding:
		return "seeding"
	case phaseBroken:
		return "broken"
	case phaseFailed:
		return "failed"
	case phaseCancelled:
		return "cancelled"
	}
	if s.download && !s.fetching {
		return "done"
	}
	return "stopped"
}

// leaf returns leaf i's CID and size, if the layout is known.
func (s *sessionState) leaf(i int) (chunker.Leaf, bool) {
	if s.layout == nil || i < 0 || i >= len(s.layout.Leaves) {
		return chunker.Leaf{}, false
	}
	return s.layout.Leaves[i], true
}
