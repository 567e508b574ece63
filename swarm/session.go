package swarm

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/myco-p2p/myco/chunker"
)

// Bounds on what one peer may have queued with us.
const (
	// maxServeQueue is the most requests a peer may have waiting to be
	// served; more are rejected as overloaded. It is above the pipeline's
	// default Max so that a well-behaved peer is never rejected.
	maxServeQueue = 64
	// maxNodeRequests is the most internal-node requests kept outstanding
	// to one peer.
	maxNodeRequests = 16
	// maxCtrlQueue is the most control messages queued to one peer; a peer
	// that does not read them is dropped.
	maxCtrlQueue = 1 << 16
	// dialConcurrency bounds a session's concurrent outgoing connects.
	dialConcurrency = 8
)

type nodeReq struct {
	peer peer.ID
	at   time.Time
}

// session is the exchange of one root with the peers that share it: a
// download (fetch != nil until it finishes) or a root we seed. It feeds the
// pure core (Picker, Choker, Pipeline, Accounting) with what its peers
// say; mu guards all of it and the per-peer protocol state.
type session struct {
	svc  *Service
	root cid.Cid
	log  *slog.Logger
	rng  *rand.Rand

	mu      sync.Mutex
	closed  bool
	fetch   *chunker.Fetch // nil when seeding a kept root
	layout  *chunker.Layout
	byCid   map[cid.Cid][]int
	have    *Bitfield
	bytes   int64 // content bytes of the leaves in have
	picker  *Picker
	choker  *Choker
	acct    *Accounting
	peers   map[peer.ID]*peerConn
	dialing map[peer.ID]bool
	seeding bool
	// finishing is set once the last leaf is in and Finish is running.
	finishing bool
	nodeReqs  map[cid.Cid]nodeReq
	dl        *Download
	received  int // leaves received (verified and stored) in this run
	started   time.Time
	lastPex   time.Time
	lastFind  time.Time
	// useful is the last time a peer that has the root was in the session.
	useful time.Time
	// findMore wakes discover to look providers up again.
	findMore chan struct{}
}

func (s *session) download() *Download {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dl
}

func (s *session) handshake() *Handshake {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handshakeLocked()
}

func (s *session) handshakeLocked() *Handshake {
	hs := &Handshake{Version: ProtocolVersion, Root: s.root}
	if s.layout != nil {
		hs.Leaves = len(s.layout.Leaves)
	}
	return hs
}

// setLayout installs the leaves once known: the have bitfield, the picker,
// and the bitfields peers sent before we could check them.
func (s *session) setLayout(l *chunker.Layout, now time.Time) error {
	n := len(l.Leaves)
	if n > MaxLeaves {
		return fmt.Errorf("session %s: %d leaves, at most %d supported", s.root, n, MaxLeaves)
	}
	s.layout = l
	s.byCid = make(map[cid.Cid][]int, n)
	for i, lf := range l.Leaves {
		s.byCid[lf.Cid] = append(s.byCid[lf.Cid], i)
	}
	if s.fetch == nil {
		s.have = NewFullBitfield(n)
		s.bytes = max(l.Size, 0)
	} else {
		s.have = BitfieldFromBools(s.fetch.Have())
		for i := s.have.NextSet(0); i >= 0; i = s.have.NextSet(i + 1) {
			s.bytes += max(l.Leaves[i].Size, 0)
		}
		p, err := NewPicker(s.have, s.svc.cfg.Picker, s.rng)
		if err != nil {
			return err
		}
		s.picker = p
	}
	for _, pc := range s.sortedPeers() {
		pc.pipe, _ = NewPipeline(s.svc.cfg.Pipeline, s.leafSize())
		pc.queue(s.bitfieldMsg())
		if err := s.adoptBitfield(pc, now); err != nil {
			s.log.Debug("drop peer", "peer", pc.id, "err", err)
			pc.drop()
		}
	}
	s.requestAll(now)
	return nil
}

// bitfieldMsg is what we announce: everything we hold (nothing for a
// free-rider).
func (s *session) bitfieldMsg() *BitfieldMsg {
	if s.svc.cfg.freeRide {
		return &BitfieldMsg{Have: NewBitfield(s.have.Len())}
	}
	return &BitfieldMsg{Have: s.have.Clone()}
}

// adoptBitfield moves a peer's bitfield received before we knew the leaf
// count into the picker, once we know it.
func (s *session) adoptBitfield(pc *peerConn, now time.Time) error {
	if pc.has != nil || pc.rawHas == nil || s.layout == nil {
		return nil
	}
	if pc.rawHas.Len() != len(s.layout.Leaves) {
		return fmt.Errorf("%w: bitfield of %d leaves, the root has %d", errProtocol, pc.rawHas.Len(), len(s.layout.Leaves))
	}
	pc.has, pc.rawHas = pc.rawHas, nil
	if s.picker != nil && !s.seeding {
		if err := s.picker.AddPeer(pc.id, pc.has); err != nil {
			return err
		}
		pc.inPicker = true
	}
	s.updateInterest(pc)
	if s.bothComplete(pc) {
		pc.finishGracefully()
	}
	return nil
}

func (s *session) bothComplete(pc *peerConn) bool {
	return s.seeding && !s.finishing && pc.has != nil && pc.has.Complete() && s.have != nil && s.have.Complete()
}

// admit adds a peer whose handshake was exchanged (for an inbound stream
// our handshake is sent here). Both sides may open a stream at once; the
// one opened by the peer with the smaller ID survives on both sides.
func (s *session) admit(st network.Stream, r *Reader, hs *Handshake, outbound bool) (*peerConn, error) {
	now := s.svc.cfg.Now()
	remote := st.Conn().RemotePeer()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("session %s: %w", s.root, ErrClosed)
	}
	if s.svc.banned(s.root, remote) {
		return nil, fmt.Errorf("session %s: peer %s is banned", s.root, remote)
	}
	if s.layout != nil && hs.Leaves != 0 && hs.Leaves != len(s.layout.Leaves) {
		return nil, fmt.Errorf("%w: peer has %d leaves, we have %d", errProtocol, hs.Leaves, len(s.layout.Leaves))
	}
	initiator := remote
	if outbound {
		initiator = s.svc.h.ID()
	}
	if old := s.peers[remote]; old != nil {
		// The same side opening again is a reconnect: the old stream is
		// dead or dying, the new one wins.
		if old.initiator != initiator && old.initiator < initiator {
			return nil, fmt.Errorf("session %s: already connected to %s", s.root, remote)
		}
		old.drop()
		s.removeLocked(old, now)
	} else if len(s.peers) >= s.svc.cfg.MaxSessionPeers {
		return nil, fmt.Errorf("session %s: %d peers already", s.root, len(s.peers))
	}
	pc := newPeerConn(s, st, r, remote, initiator, hs.Leaves)
	if !outbound {
		// Our handshake goes first, ahead of everything queued below.
		pc.queue(s.handshakeLocked())
	}
	s.peers[remote] = pc
	if hs.Leaves > 0 {
		s.useful = now
	}
	if s.layout != nil {
		pc.queue(s.bitfieldMsg())
	}
	if pex := s.pexFor(remote); pex != nil {
		pc.queue(pex)
	}
	s.choker.AddPeer(remote, now)
	s.requestAll(now)
	s.notify()
	return pc, nil
}

// removeLocked forgets a peer that left.
func (s *session) removeLocked(pc *peerConn, now time.Time) {
	if s.peers[pc.id] != pc {
		return
	}
	delete(s.peers, pc.id)
	if s.picker != nil && pc.inPicker {
		s.picker.RemovePeer(pc.id)
		pc.inPicker = false
	}
	pc.reqAt = nil
	for c, nr := range s.nodeReqs {
		if nr.peer == pc.id {
			delete(s.nodeReqs, c)
		}
	}
	s.apply(s.choker.RemovePeer(pc.id, now))
	s.acct.Remove(pc.id)
	s.requestAll(now)
	s.notify()
}

func (s *session) remove(pc *peerConn) {
	now := s.svc.cfg.Now()
	s.mu.Lock()
	s.removeLocked(pc, now)
	idle := s.dl == nil && len(s.peers) == 0 && !s.closed
	s.mu.Unlock()
	if idle { // a serving session with no peers left
		s.svc.mu.Lock()
		s.mu.Lock()
		if len(s.peers) == 0 && s.dl == nil && s.svc.sessions[s.root] == s {
			delete(s.svc.sessions, s.root)
			s.closed = true
		}
		s.mu.Unlock()
		s.svc.mu.Unlock()
	}
}

// apply sends the choker's decisions.
func (s *session) apply(ds []Decision) {
	for _, d := range ds {
		pc := s.peers[d.Peer]
		if pc == nil {
			continue
		}
		if d.Unchoke {
			if s.svc.cfg.freeRide || !pc.amChoking {
				continue
			}
			pc.amChoking = false
			pc.queue(&Unchoke{})
		} else {
			if pc.amChoking {
				continue
			}
			pc.amChoking = true
			pc.clearServe()
			pc.queue(&Choke{})
		}
	}
}

// updateInterest tells the peer whether we want something it has.
func (s *session) updateInterest(pc *peerConn) {
	want := !s.seeding && !s.finishing && s.picker != nil && pc.inPicker && s.picker.Interesting(pc.id)
	if want == pc.amInterested {
		return
	}
	pc.amInterested = want
	s.choker.SetWanted(pc.id, want)
	if want {
		pc.queue(&Interested{})
	} else {
		pc.queue(&NotInterested{})
	}
}

// request keeps the peer's request queue at its pipeline depth.
func (s *session) request(pc *peerConn, now time.Time) {
	if s.picker == nil || s.seeding || s.finishing || pc.peerChoking || !pc.inPicker || pc.dropped {
		return
	}
	want := pc.pipe.Depth() - s.picker.Pending(pc.id)
	if want <= 0 {
		return
	}
	for _, i := range s.picker.Pick(pc.id, want) {
		pc.reqAt[i] = now
		pc.queue(&Request{Ref: LeafRef(i)})
	}
}

// requestAll tops up every peer's requests, or asks for internal nodes
// while the leaves are not known yet.
func (s *session) requestAll(now time.Time) {
	if s.closed || s.fetch == nil {
		return
	}
	if s.layout == nil {
		s.requestNodes(now)
		return
	}
	for _, pc := range s.sortedPeers() {
		s.request(pc, now)
	}
}

// requestNodes asks peers that know the leaves for the internal nodes we
// miss, spreading them over the peers with the fewest outstanding.
func (s *session) requestNodes(now time.Time) {
	var cands []*peerConn
	for _, pc := range s.sortedPeers() {
		if pc.remoteLeaves > 0 && !pc.dropped {
			cands = append(cands, pc)
		}
	}
	if len(cands) == 0 {
		return
	}
	for _, c := range s.fetch.Missing() {
		if nr, ok := s.nodeReqs[c]; ok && now.Sub(nr.at) < s.svc.cfg.RequestTimeout {
			continue
		}
		best := slices.MinFunc(cands, func(a, b *peerConn) int { return cmp.Compare(a.nodeReqs, b.nodeReqs) })
		if best.nodeReqs >= maxNodeRequests {
			return
		}
		best.nodeReqs++
		s.nodeReqs[c] = nodeReq{peer: best.id, at: now}
		best.queue(&Request{Ref: NodeRef(c)})
	}
}

func (s *session) sortedPeers() []*peerConn {
	out := make([]*peerConn, 0, len(s.peers))
	for _, pc := range s.peers {
		out = append(out, pc)
	}
	slices.SortFunc(out, func(a, b *peerConn) int { return cmp.Compare(a.id, b.id) })
	return out
}

// pexFor lists the other session peers (with addresses) for peer exchange.
func (s *session) pexFor(to peer.ID) *Peers {
	var infos []peer.AddrInfo
	for _, pc := range s.sortedPeers() {
		if pc.id == to || len(infos) == MaxPeersPerMessage {
			continue
		}
		addrs := s.svc.h.Peerstore().Addrs(pc.id)
		if len(addrs) == 0 {
			continue
		}
		if len(addrs) > MaxAddrsPerPeer {
			addrs = addrs[:MaxAddrsPerPeer]
		}
		infos = append(infos, peer.AddrInfo{ID: pc.id, Addrs: addrs})
	}
	if len(infos) == 0 {
		return nil
	}
	return &Peers{Peers: infos}
}

// handle applies one message other than a Block.
func (s *session) handle(pc *peerConn, m Message) error {
	now := s.svc.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if pc.dropped {
		return nil
	}
	switch m := m.(type) {
	case *Handshake:
		return fmt.Errorf("%w: second handshake", errProtocol)
	case *BitfieldMsg:
		if pc.has != nil || pc.rawHas != nil {
			return fmt.Errorf("%w: second bitfield", errProtocol)
		}
		pc.rawHas = m.Have
		if pc.remoteLeaves == 0 {
			pc.remoteLeaves = m.Have.Len()
			s.useful = now
		}
		if s.layout == nil {
			s.requestAll(now)
		}
		if err := s.adoptBitfield(pc, now); err != nil {
			return err
		}
		s.request(pc, now)
	case *Have:
		bf := pc.has
		if bf == nil {
			bf = pc.rawHas
		}
		if bf == nil {
			return fmt.Errorf("%w: have before bitfield", errProtocol)
		}
		if m.Index >= bf.Len() {
			return fmt.Errorf("%w: have %d of %d leaves", errProtocol, m.Index, bf.Len())
		}
		if pc.has == nil { // not adopted yet: just record it
			bf.Set(m.Index)
			return nil
		}
		if !pc.has.Set(m.Index) {
			return nil
		}
		if pc.inPicker {
			if err := s.picker.PeerHas(pc.id, m.Index); err != nil {
				return err
			}
		}
		s.updateInterest(pc)
		s.request(pc, now)
		if s.bothComplete(pc) {
			pc.finishGracefully()
		}
	case *Interested:
		pc.peerInterested = true
		ds, err := s.choker.SetInterested(pc.id, true, now)
		if err != nil {
			return err
		}
		s.apply(ds)
	case *NotInterested:
		pc.peerInterested = false
		pc.clearServe()
		ds, err := s.choker.SetInterested(pc.id, false, now)
		if err != nil {
			return err
		}
		s.apply(ds)
	case *Choke:
		pc.peerChoking = true
		s.failPending(pc)
		s.requestAll(now)
	case *Unchoke:
		pc.peerChoking = false
		s.request(pc, now)
	case *Request:
		return s.onRequest(pc, m.Ref)
	case *Cancel:
		pc.cancelServe(m.Ref)
	case *Reject:
		if m.Ref.IsLeaf() {
			if _, ok := pc.reqAt[m.Ref.Index]; ok {
				delete(pc.reqAt, m.Ref.Index)
				if pc.inPicker {
					s.picker.Failed(pc.id, m.Ref.Index)
				}
			}
		} else if nr, ok := s.nodeReqs[m.Ref.CID]; ok && nr.peer == pc.id {
			delete(s.nodeReqs, m.Ref.CID)
			pc.nodeReqs--
			pc.remoteLeaves = 0 // it cannot serve nodes: stop asking it
		}
		s.requestAll(now)
	case *Peers:
		s.onPeers(m.Peers)
	case *Block:
		return fmt.Errorf("block handled elsewhere")
	}
	return nil
}

// failPending returns every leaf requested from pc to the pool.
func (s *session) failPending(pc *peerConn) {
	for i := range pc.reqAt {
		if pc.inPicker {
			s.picker.Failed(pc.id, i)
		}
	}
	clear(pc.reqAt)
}

func (s *session) onRequest(pc *peerConn, ref Ref) error {
	if ref.IsLeaf() {
		switch {
		case s.layout == nil || ref.Index >= len(s.layout.Leaves) || !s.have.Has(ref.Index) || s.svc.cfg.freeRide:
			pc.queue(&Reject{Ref: ref, Reason: RejectNotFound})
		case pc.amChoking:
			pc.queue(&Reject{Ref: ref, Reason: RejectChoked})
		default:
			if !pc.enqueueServe(ref) {
				pc.queue(&Reject{Ref: ref, Reason: RejectOverloaded})
			}
		}
		return nil
	}
	// Internal nodes are metadata, like BitTorrent's info dictionary: they
	// are served unchoked. Only dag-pb nodes are served by CID; leaves go by
	// index, so a peer cannot read arbitrary raw blocks of the store.
	if ref.CID.Type() != cid.DagProtobuf || s.svc.cfg.freeRide || !s.svc.store.Has(ref.CID) {
		pc.queue(&Reject{Ref: ref, Reason: RejectNotFound})
		return nil
	}
	if !pc.enqueueServe(ref) {
		pc.queue(&Reject{Ref: ref, Reason: RejectOverloaded})
	}
	return nil
}

func (s *session) onPeers(infos []peer.AddrInfo) {
	if s.dl == nil || s.seeding || s.finishing || s.closed {
		return
	}
	self := s.svc.h.ID()
	for _, info := range infos {
		if info.ID == self || s.peers[info.ID] != nil || s.dialing[info.ID] {
			continue
		}
		if len(s.peers)+len(s.dialing) >= s.svc.cfg.MaxSessionPeers {
			return
		}
		s.dial(info)
	}
}

// dial connects to a peer for this session on a service goroutine; s.mu
// is held.
func (s *session) dial(info peer.AddrInfo) {
	if s.svc.banned(s.root, info.ID) {
		return
	}
	s.dialing[info.ID] = true
	ok := s.svc.spawn(func() {
		err := s.svc.connect(s, info)
		if err != nil {
			s.log.Debug("connect", "peer", info.ID, "err", err)
		}
		s.mu.Lock()
		delete(s.dialing, info.ID)
		s.mu.Unlock()
	})
	if !ok {
		delete(s.dialing, info.ID)
	}
}

// onBlock takes a block from the peer's reader: an internal node is
// stored at once; a leaf we asked the peer for is queued for the peer's
// store goroutine (storeLeaf), anything else is dropped.
func (s *session) onBlock(pc *peerConn, b *Block) error {
	now := s.svc.cfg.Now()
	n := len(b.Data)
	s.svc.acct.Downloaded(pc.id, n, now)
	s.acct.Downloaded(pc.id, n, now)
	if !b.Ref.IsLeaf() {
		return s.onNode(pc, b.Ref.CID, b.Data)
	}
	i := b.Ref.Index
	s.mu.Lock()
	_, asked := pc.reqAt[i]
	if asked {
		s.choker.Received(pc.id, n, now)
	}
	want := asked && s.fetch != nil
	s.mu.Unlock()
	if !want {
		return nil // cancelled, failed or never asked: drop it
	}
	return pc.queueLeaf(i, b.Data)
}

// storeLeaf verifies leaf i from the peer and writes it; the peer's store
// goroutine calls it, in the order the leaves arrived. A leaf whose
// request was cancelled or failed meanwhile (a copy from another peer
// came first) is dropped.
func (s *session) storeLeaf(pc *peerConn, i int, data []byte) error {
	s.mu.Lock()
	f := s.fetch
	_, asked := pc.reqAt[i]
	s.mu.Unlock()
	if !asked || f == nil {
		return nil
	}
	if err := f.PutLeaf(i, data); err != nil {
		if errors.Is(err, chunker.ErrHashMismatch) || errors.Is(err, chunker.ErrMalformed) {
			return fmt.Errorf("%w: leaf %d: %w", ErrBadData, i, err)
		}
		s.mu.Lock()
		delete(pc.reqAt, i)
		if pc.inPicker {
			s.picker.Failed(pc.id, i)
		}
		s.mu.Unlock()
		return fmt.Errorf("store leaf %d: %w", i, err)
	}
	now := s.svc.cfg.Now()
	s.mu.Lock()
	s.received++
	finish := s.leafStored(pc, i, now)
	s.mu.Unlock()
	if finish {
		s.finish()
	}
	return nil
}

// leafStored records a verified leaf: every index with the same CID is
// now on disk too. It reports whether the download just completed.
func (s *session) leafStored(pc *peerConn, i int, now time.Time) bool {
	delete(pc.reqAt, i)
	if s.picker == nil || s.closed {
		return false
	}
	pc.pipe.Received()
	cancels, err := s.picker.Received(pc.id, i)
	if err != nil { // a copy from another peer won the race
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
	if s.have.Complete() && !s.finishing {
		s.finishing = true
		for _, other := range s.peers {
			s.updateInterest(other)
		}
		s.notify()
		return true
	}
	s.request(pc, now)
	s.notify()
	return false
}

func (s *session) gotLeaf(i int) {
	if !s.have.Set(i) {
		return
	}
	s.bytes += max(s.layout.Leaves[i].Size, 0)
	if s.svc.cfg.freeRide {
		return
	}
	for _, pc := range s.peers {
		if pc.has == nil || !pc.has.Has(i) {
			pc.queue(&Have{Index: i})
		}
	}
}

func (s *session) cancelAt(ids []peer.ID, i int) {
	for _, id := range ids {
		if pc := s.peers[id]; pc != nil {
			delete(pc.reqAt, i)
			pc.queue(&Cancel{Ref: LeafRef(i)})
		}
	}
}

// onNode stores an internal node we asked for and, once the leaves are
// known, starts on them.
func (s *session) onNode(pc *peerConn, c cid.Cid, data []byte) error {
	s.mu.Lock()
	nr, ok := s.nodeReqs[c]
	f := s.fetch
	if ok && nr.peer == pc.id {
		delete(s.nodeReqs, c)
		pc.nodeReqs--
	}
	s.mu.Unlock()
	if !ok || nr.peer != pc.id || f == nil {
		return nil
	}
	if err := f.PutNode(c, data); err != nil {
		if errors.Is(err, chunker.ErrHashMismatch) || errors.Is(err, chunker.ErrMalformed) {
			return fmt.Errorf("%w: node %s: %w", ErrBadData, c, err)
		}
		if !errors.Is(err, chunker.ErrNotWanted) {
			return fmt.Errorf("store node %s: %w", c, err)
		}
	}
	now := s.svc.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	if s.layout == nil {
		if l := f.Layout(); l != nil {
			if err := s.setLayout(l, now); err != nil {
				return err
			}
			s.notify()
			if f.Complete() && !s.finishing {
				s.finishing = true
				s.svc.spawn(s.finish)
			}
			return nil
		}
	}
	s.requestAll(now)
	return nil
}

// finish turns the completed fetch into a kept root and starts seeding.
func (s *session) finish() {
	s.mu.Lock()
	f, dl := s.fetch, s.dl
	s.mu.Unlock()
	if f == nil {
		return
	}
	info, err := f.Finish()
	now := s.svc.cfg.Now()
	s.mu.Lock()
	if err != nil {
		s.mu.Unlock()
		s.fail(fmt.Errorf("finish fetch of %s: %w", s.root, err))
		return
	}
	s.fetch = nil
	s.picker = nil
	s.seeding = true
	s.finishing = false
	for _, pc := range s.sortedPeers() {
		pc.inPicker = false
		clear(pc.reqAt)
		s.updateInterest(pc)
		if s.bothComplete(pc) {
			pc.finishGracefully()
		}
	}
	s.apply(s.choker.SetSeeding(true, now))
	s.notify()
	s.mu.Unlock()
	s.log.Info("download complete", "size", info.Size, "received", s.received)
	if dl != nil {
		dl.finish(info, nil)
	}
}

// fail ends a download with err: its peers are dropped and the session
// forgotten. A fresh fetch that got nothing at all is aborted; otherwise
// what is on disk stays for a later resume.
func (s *session) fail(err error) {
	s.mu.Lock()
	f, dl := s.fetch, s.dl
	abort := dl != nil && dl.fresh && s.layout == nil && errors.Is(err, ErrNoProviders)
	s.mu.Unlock()
	s.shutdown(err)
	if abort && f != nil {
		if aerr := f.Abort(false); aerr != nil {
			s.log.Warn("abort fetch", "err", aerr)
		}
	}
}

// shutdown closes the session: its streams are reset and its download, if
// still running, ends with err.
func (s *session) shutdown(err error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for _, pc := range s.peers {
		pc.drop()
	}
	if s.findMore != nil {
		close(s.findMore)
		s.findMore = nil
	}
	dl := s.dl
	s.notify()
	s.mu.Unlock()
	s.svc.dropSession(s)
	if dl != nil {
		dl.finish(chunker.RootInfo{}, err)
	}
}

// tick runs the periodic work at now.
func (s *session) tick(now time.Time) {
	var failErr error
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.apply(s.choker.Tick(now))
	anyUseful := false
	for _, pc := range s.sortedPeers() {
		if pc.remoteLeaves > 0 {
			anyUseful = true
		}
		if pc.pipe != nil {
			ps, _ := s.acct.Peer(pc.id, now)
			pc.pipe.Tick(ps.DownRate)
		}
		timedOut := false
		for i, at := range pc.reqAt {
			if now.Sub(at) >= s.svc.cfg.RequestTimeout {
				delete(pc.reqAt, i)
				if pc.inPicker {
					s.picker.Failed(pc.id, i)
				}
				pc.queue(&Cancel{Ref: LeafRef(i)})
				timedOut = true
			}
		}
		if timedOut && pc.pipe != nil {
			pc.pipe.Reset()
		}
	}
	if anyUseful {
		s.useful = now
	}
	downloading := s.dl != nil && !s.seeding
	if downloading && !anyUseful && now.Sub(s.useful) >= s.dl.timeout {
		failErr = fmt.Errorf("fetch %s: %w within %v", s.root, ErrNoProviders, s.dl.timeout)
	}
	if now.Sub(s.lastPex) >= s.svc.cfg.PexInterval {
		s.lastPex = now
		for _, pc := range s.peers {
			if pex := s.pexFor(pc.id); pex != nil {
				pc.queue(pex)
			}
		}
	}
	if downloading && now.Sub(s.lastFind) >= s.svc.cfg.FindInterval && len(s.peers) < s.svc.cfg.MaxSessionPeers {
		s.lastFind = now
		if s.findMore != nil {
			select {
			case s.findMore <- struct{}{}:
			default:
			}
		}
	}
	s.requestAll(now)
	s.notify()
	s.mu.Unlock()
	if failErr != nil {
		s.fail(failErr)
	}
}

// discover finds peers for a download: connected peers first, then
// content routing, again every FindInterval while the download runs. It
// also announces the root at once.
func (s *session) discover() {
	svc := s.svc
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	more := make(chan struct{}, 1)
	s.findMore = more
	s.mu.Unlock()
	if svc.cfg.Provide != nil {
		svc.spawn(func() {
			if err := svc.cfg.Provide(svc.ctx, s.root); err != nil {
				s.log.Debug("provide", "err", err)
			}
		})
	}
	sem := make(chan struct{}, dialConcurrency)
	try := func(info peer.AddrInfo) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed || s.seeding || info.ID == svc.h.ID() || s.peers[info.ID] != nil || s.dialing[info.ID] ||
			len(s.peers)+len(s.dialing) >= svc.cfg.MaxSessionPeers || svc.banned(s.root, info.ID) {
			return
		}
		s.dialing[info.ID] = true
		svc.spawn(func() {
			select {
			case sem <- struct{}{}:
			case <-svc.ctx.Done():
			}
			err := svc.connect(s, info)
			select {
			case <-sem:
			default:
			}
			if err != nil {
				s.log.Debug("connect", "peer", info.ID, "err", err)
			}
			s.mu.Lock()
			delete(s.dialing, info.ID)
			s.mu.Unlock()
		})
	}
	for _, id := range svc.h.Network().Peers() {
		try(peer.AddrInfo{ID: id})
	}
	for {
		if svc.cfg.FindProviders != nil {
			ch, err := svc.cfg.FindProviders(svc.ctx, s.root, svc.cfg.MaxSessionPeers)
			if err != nil {
				s.log.Debug("find providers", "err", err)
			} else {
				for info := range ch {
					try(info)
				}
			}
		}
		select {
		case <-svc.ctx.Done():
			return
		case _, ok := <-more:
			if !ok {
				return
			}
		}
	}
}

// SessionStats is the state of one root's session (`myco stat CID`).
type SessionStats struct {
	Root        cid.Cid `json:"cid"`
	Have        int     `json:"have"`   // leaves on disk
	Leaves      int     `json:"leaves"` // leaves in total (0 while unknown)
	Bytes       int64   `json:"bytes"`  // content bytes on disk
	Size        int64   `json:"size"`   // content bytes in total (-1 while unknown)
	Peers       int     `json:"peers"`
	Uploaded    int64   `json:"uploaded"`
	Downloaded  int64   `json:"downloaded"`
	UpRate      float64 `json:"up_rate"`
	DownRate    float64 `json:"down_rate"`
	Downloading bool    `json:"downloading"`
	// Received counts leaves received and verified in this run of the
	// download (a resumed download does not count what was on disk).
	Received int `json:"received"`
	// State is the fetch lifecycle: "queued", "finding peers",
	// "downloading", "verifying", "done", "failed", "cancelled", or
	// "seeding" for a root we only serve.
	State string `json:"state"`
	// Reason says why a fetch failed, in words a person can act on.
	Reason string `json:"reason,omitempty"`
	// Dest is where the verified content goes (downloads only).
	Dest string `json:"dest,omitempty"`
	// Name is the root's name, as shared or as announced by peers.
	Name string `json:"name,omitempty"`
}

func (s *session) stats() SessionStats {
	now := s.svc.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := SessionStats{Root: s.root, Peers: len(s.peers), Size: -1, Bytes: s.bytes,
		Downloading: !s.seeding, Received: s.received, State: "downloading"}
	if s.seeding {
		st.State = "seeding"
	}
	if s.layout != nil {
		st.Have, st.Leaves, st.Size = s.have.Count(), s.have.Len(), s.layout.Size
	}
	t := s.acct.Totals(now)
	st.Uploaded, st.Downloaded, st.UpRate, st.DownRate = t.Uploaded, t.Downloaded, t.UpRate, t.DownRate
	return st
}

// notify wakes whoever watches the download's progress; s.mu is held.
func (s *session) notify() {
	if s.dl != nil {
		s.dl.notify()
	}
}
