package swarm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
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

// errSessionEnded: a stream arrived for a session that just ended.
var errSessionEnded = errors.New("session ended")

// session is the executor of one root's sessionState: it feeds the state
// the events its streams, store and clock produce, and carries out the
// effects the state returns. mu guards the state and the set of streams;
// effects that only queue (messages, serve requests, closing a stream) are
// applied at once under mu, in order; the rest (store writes of Finish and
// Abort, dials, lookups, bans) go to the session's one executor goroutine
// (run), in order. The session's context ends when the session does, and
// with it every lookup, dial and stream of the session.
type session struct {
	svc   *Service
	root  cid.Cid
	log   *slog.Logger
	fetch *chunker.Fetch // nil when serving a kept root
	dest  string         // the destination the fetch was started with
	dl    *Download      // nil when serving a kept root
	acct  *Accounting
	ctx   context.Context
	stop  context.CancelFunc
	// gone is closed when the executor has carried out the session's end.
	gone chan struct{}

	mu    sync.Mutex
	st    *sessionState
	conns map[peer.ID]*peerConn
	ended bool // the state emitted effEnd

	qmu     sync.Mutex
	queue   []effect
	wake    chan struct{}
	finding bool
	dialSem chan struct{}
	// finishedOK is set by the executor once Finish succeeded.
	finishedOK *chunker.RootInfo

	// payMax is what the fetch may pay priced peers, paySpent what it
	// paid or is paying (pay.go).
	payMu    sync.Mutex
	payMax   uint64
	paySpent uint64
}

// step feeds one event to the state and applies its effects. It reports
// whether the state asked to store the block of an evBlock.
func (s *session) step(ev any) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stepLocked(ev)
}

func (s *session) stepLocked(ev any) bool {
	s.st.step(ev)
	store := false
	for _, e := range s.st.ready() {
		if e.kind == effStore {
			store = true
			continue
		}
		s.applyLocked(e)
	}
	return store
}

// stepFrom steps an event from pc's goroutines, unless pc was replaced
// or dropped meanwhile.
func (s *session) stepFrom(pc *peerConn, ev any) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[pc.id] != pc {
		return false
	}
	return s.stepLocked(ev)
}

// applyLocked carries out an effect that only queues; the others go to
// the executor goroutine.
func (s *session) applyLocked(e effect) {
	pc := s.conns[e.peer]
	switch e.kind {
	case effSend:
		if pc != nil {
			pc.queue(e.msg)
		}
	case effServe:
		if pc == nil {
			return
		}
		if !e.ref.IsLeaf() && !s.svc.store.Has(e.ref.CID) {
			pc.queue(&Reject{Ref: e.ref, Reason: RejectNotFound})
			return
		}
		if !pc.enqueueServe(e.ref) {
			pc.queue(&Reject{Ref: e.ref, Reason: RejectOverloaded})
		}
	case effCancelServe:
		if pc != nil {
			pc.cancelServe(e.ref)
		}
	case effClearServe:
		if pc != nil {
			pc.clearServe()
		}
	case effDrop:
		if pc != nil {
			if e.err != nil {
				s.log.Debug("drop peer", "peer", e.peer, "err", e.err)
			}
			pc.halt()
		}
	case effClose:
		if pc != nil {
			pc.finishGracefully()
		}
	case effPex:
		if pc != nil {
			if m := s.pexMessage(e.peers); m != nil {
				pc.queue(m)
			}
		}
	case effNotify:
		if s.dl != nil {
			s.dl.notify()
		}
	case effEnd:
		s.ended = true
		s.enqueue(e)
	default:
		s.enqueue(e)
	}
}

func (s *session) enqueue(e effect) {
	s.qmu.Lock()
	s.queue = append(s.queue, e)
	s.qmu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// pexMessage lists peers with the addresses in our peerstore.
func (s *session) pexMessage(ids []peer.ID) *Peers {
	var infos []peer.AddrInfo
	for _, id := range ids {
		addrs := s.svc.h.Peerstore().Addrs(id)
		if len(addrs) == 0 {
			continue
		}
		if len(addrs) > MaxAddrsPerPeer {
			addrs = addrs[:MaxAddrsPerPeer]
		}
		infos = append(infos, peer.AddrInfo{ID: id, Addrs: addrs})
	}
	if len(infos) == 0 {
		return nil
	}
	return &Peers{Peers: infos}
}

// run is the executor goroutine: it carries out the queued effects in
// order until the session's end has been carried out.
func (s *session) run() {
	defer close(s.gone)
	for {
		s.qmu.Lock()
		q := s.queue
		s.queue = nil
		s.qmu.Unlock()
		for _, e := range q {
			if s.execute(e) {
				return
			}
		}
		if len(q) == 0 {
			<-s.wake
		}
	}
}

// execute carries out one effect; it reports whether the session ended.
func (s *session) execute(e effect) bool {
	svc := s.svc
	switch e.kind {
	case effBan:
		svc.ban(s.root, e.peer)
		s.log.Warn("peer sent bad data: banned from the root", "peer", e.peer, "err", e.err)
		if err := svc.h.Network().ClosePeer(e.peer); err != nil {
			s.log.Debug("close peer", "peer", e.peer, "err", err)
		}
	case effDial:
		s.dial(e.info)
	case effFind:
		s.find()
	case effProvide:
		if svc.cfg.Provide != nil {
			svc.spawn(func() {
				if err := svc.cfg.Provide(s.ctx, s.root); err != nil {
					s.log.Debug("provide", "err", err)
				}
			})
		}
	case effSetDest:
		dest := s.dest
		if e.name != "" {
			dest = filepath.Join(filepath.Dir(s.dest), e.name)
		}
		if err := s.fetch.SetDest(dest); err != nil {
			s.log.Debug("set destination", "dest", dest, "err", err)
		}
	case effFinish:
		info, err := s.fetch.Finish()
		if err == nil {
			s.finishedOK = &info
		}
		s.step(evFinished{info: info, err: err, now: svc.now()})
	case effAbort:
		if err := s.fetch.Abort(e.keep); err != nil && !errors.Is(err, chunker.ErrFetchClosed) {
			s.log.Warn("abort fetch", "err", err)
		}
	case effMarkBroken:
		svc.markBroken(s.root, e.err)
	case effDone:
		s.log.Info("download complete", "size", e.done.Size, "dest", s.fetch.Dest())
		s.dl.finish(e.done, nil)
	case effEnd:
		s.finishEnd(e.err)
		return true
	}
	return false
}

// finishEnd carries out the session's end: the session leaves the
// service (a failed or cancelled download is kept in Finished), its
// context ends, and a running download ends with err.
func (s *session) finishEnd(err error) {
	st := s.stats()
	if st.State == "failed" {
		s.log.Warn("download failed", "reason", st.Reason)
		err = fmt.Errorf("fetch %s: %w", s.root, err)
	}
	s.svc.dropSession(s, st)
	s.stop()
	if s.dl != nil {
		if s.finishedOK != nil {
			// Finish succeeded as the session was being stopped: the
			// destination holds the verified content, so say so.
			s.dl.finish(*s.finishedOK, nil)
		}
		if err == nil {
			err = fmt.Errorf("download %s: %w", s.root, ErrStopped)
		}
		s.dl.finish(chunker.RootInfo{}, err)
	}
}

// dial connects to a candidate on a goroutine of its own, at most
// dialConcurrency at once per session.
func (s *session) dial(info peer.AddrInfo) {
	svc := s.svc
	if svc.banned(s.root, info.ID) || !svc.spawn(func() {
		select {
		case s.dialSem <- struct{}{}:
		case <-s.ctx.Done():
			s.step(evDialDone{id: info.ID})
			return
		}
		err := svc.connect(s, info)
		<-s.dialSem
		if err != nil {
			s.log.Debug("connect", "peer", info.ID, "err", err)
		}
		s.step(evDialDone{id: info.ID})
	}) {
		s.step(evDialDone{id: info.ID})
	}
}

// find offers the state the connected peers, then providers from content
// routing; one lookup at a time, within the session's context.
func (s *session) find() {
	s.qmu.Lock()
	if s.finding {
		s.qmu.Unlock()
		return
	}
	s.finding = true
	s.qmu.Unlock()
	svc := s.svc
	ok := svc.spawn(func() {
		defer func() {
			s.qmu.Lock()
			s.finding = false
			s.qmu.Unlock()
		}()
		for _, id := range svc.h.Network().Peers() {
			s.step(evCandidate{info: peer.AddrInfo{ID: id}})
		}
		if svc.cfg.FindProviders == nil {
			return
		}
		ch, err := svc.cfg.FindProviders(s.ctx, s.root, svc.cfg.MaxSessionPeers)
		if err != nil {
			s.log.Debug("find providers", "err", err)
			return
		}
		for {
			select {
			case info, ok := <-ch:
				if !ok {
					return
				}
				s.step(evCandidate{info: info})
			case <-s.ctx.Done():
				return
			}
		}
	})
	if !ok {
		s.qmu.Lock()
		s.finding = false
		s.qmu.Unlock()
	}
}

func (s *session) download() *Download { return s.dl }

func (s *session) handshake() *Handshake {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handshakeLocked()
}

// handshakeLocked is the state's handshake with our terms: our price, and
// whether we pay; s.mu is held.
func (s *session) handshakeLocked() *Handshake {
	hs := s.st.handshake()
	if p := s.svc.cfg.Price; p > 0 {
		hs.Price, hs.PayTo = p, s.svc.cfg.PayTo
	}
	s.payMu.Lock()
	hs.Pays = s.payMax > s.paySpent && s.st.fetching
	s.payMu.Unlock()
	return hs
}

// raiseBudget raises what the fetch may pay to max; streams opened from
// now on say they pay. When the fetch paid nothing more before (a fetch
// resumed at start has no budget), the streams to priced peers that said
// we do not pay are opened again, saying we do: the new stream replaces
// the old on both sides (admit), unless the peer opened the old one and
// wins the tie, and then that peer is paid from its next stream.
func (s *session) raiseBudget(limit uint64) {
	if s.svc.cfg.Pay == nil || s.fetch == nil {
		return
	}
	s.payMu.Lock()
	paying := s.payMax > s.paySpent
	s.payMax = max(s.payMax, limit)
	pays := s.payMax > s.paySpent
	s.payMu.Unlock()
	if paying || !pays {
		return
	}
	s.mu.Lock()
	var again []peer.ID
	if s.st.fetching && !s.ended {
		for id, pc := range s.conns {
			if pc.price > 0 && pc.pay == nil {
				again = append(again, id)
			}
		}
	}
	s.mu.Unlock()
	for _, id := range again {
		s.dial(peer.AddrInfo{ID: id})
	}
}

// paying reports whether the fetch pays priced peers: it has budget left.
func (s *session) paying() bool {
	s.mu.Lock()
	fetching := s.st.fetching && !s.ended
	s.mu.Unlock()
	s.payMu.Lock()
	defer s.payMu.Unlock()
	return fetching && s.payMax > s.paySpent
}

// admit adds a peer whose handshake was exchanged: sent is the one we
// sent on an outbound stream, whose terms hold for the stream; for an
// inbound stream (sent nil) ours is sent here. Both sides may open a
// stream at once; the one opened by the peer with the smaller ID survives
// on both sides.
func (s *session) admit(st network.Stream, r *Reader, hs *Handshake, sent *Handshake) (*peerConn, error) {
	outbound := sent != nil
	now := s.svc.now()
	remote := st.Conn().RemotePeer()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return nil, fmt.Errorf("session %s: %w", s.root, errSessionEnded)
	}
	if s.st.phase == phaseBroken {
		return nil, fmt.Errorf("session %s: the root is broken: its shared file changed or vanished", s.root)
	}
	if s.svc.banned(s.root, remote) {
		return nil, fmt.Errorf("session %s: peer %s is banned", s.root, remote)
	}
	if s.st.layout != nil && hs.Leaves != 0 && hs.Leaves != len(s.st.layout.Leaves) {
		return nil, fmt.Errorf("%w: peer has %d leaves, we have %d", errProtocol, hs.Leaves, len(s.st.layout.Leaves))
	}
	initiator := remote
	if outbound {
		initiator = s.svc.h.ID()
	}
	if old := s.conns[remote]; old != nil {
		// The same side opening again is a reconnect: the old stream is
		// dead or dying, the new one wins.
		if old.initiator != initiator && old.initiator < initiator {
			return nil, fmt.Errorf("session %s: already connected to %s", s.root, remote)
		}
		old.halt()
		delete(s.conns, remote)
		if old.charged {
			// The old stream's payments end here, not when its
			// goroutines do (remove): a write to a peer that died
			// holds them up to StreamTimeout, and the new stream
			// must find the peer gone (payBook.join).
			s.svc.pay.leave(remote)
		}
	} else if len(s.conns) >= s.svc.cfg.MaxSessionPeers {
		return nil, fmt.Errorf("session %s: %d peers already", s.root, len(s.conns))
	}
	pc := newPeerConn(s, st, r, remote, initiator)
	ours := sent
	if !outbound {
		// Our handshake goes first, ahead of everything queued below.
		ours = s.handshakeLocked()
		pc.queue(ours)
	}
	pc.price = hs.Price
	if hs.Price > 0 && ours.Pays {
		pc.pay = newPeerPayer(hs.Price, hs.PayTo)
	}
	pays := hs.Pays && s.svc.pay != nil
	if pays {
		pc.charged = true
		s.svc.pay.join(remote)
	}
	s.conns[remote] = pc
	s.stepLocked(evPeerJoined{id: remote, leaves: hs.Leaves, name: hs.Name, pays: pays, now: now})
	return pc, nil
}

// remove forgets a peer whose stream ended.
func (s *session) remove(pc *peerConn) {
	now := s.svc.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[pc.id] != pc {
		return
	}
	delete(s.conns, pc.id)
	if pc.charged {
		s.svc.pay.leave(pc.id)
	}
	s.acct.Remove(pc.id)
	s.stepLocked(evPeerLeft{id: pc.id, now: now})
}

// onBlock takes a block from the peer's reader: an internal node is
// stored at once; a leaf the state still wants is queued for the peer's
// store goroutine (storeLeaf).
func (s *session) onBlock(pc *peerConn, b *Block) error {
	now := s.svc.now()
	n := len(b.Data)
	s.svc.acct.Downloaded(pc.id, n, now)
	s.svc.rootDownloaded(s.root, n)
	s.acct.Downloaded(pc.id, n, now)
	if pc.pay != nil && b.Ref.IsLeaf() {
		pc.pay.received(n)
	}
	if !s.stepFrom(pc, evBlock{id: pc.id, ref: b.Ref, n: n, now: now}) {
		return nil
	}
	if !b.Ref.IsLeaf() {
		return s.storeNode(pc, b.Ref.CID, b.Data)
	}
	return pc.queueLeaf(b.Ref.Index, b.Data)
}

// storeLeaf verifies leaf i from the peer and writes it; the peer's store
// goroutine calls it, in the order the leaves arrived. A leaf whose
// request was cancelled or failed meanwhile is dropped. Bad data ends the
// peer (the error); any other store failure ends the download.
func (s *session) storeLeaf(pc *peerConn, i int, data []byte) error {
	s.mu.Lock()
	want := s.conns[pc.id] == pc && s.st.wantsLeaf(pc.id, i)
	s.mu.Unlock()
	if !want {
		return nil
	}
	if err := s.fetch.PutLeaf(i, data); err != nil {
		if errors.Is(err, chunker.ErrHashMismatch) || errors.Is(err, chunker.ErrMalformed) {
			err = fmt.Errorf("%w: leaf %d: %w", ErrBadData, i, err)
			s.stepFrom(pc, evBadData{id: pc.id, err: err})
			return err
		}
		if errors.Is(err, chunker.ErrFetchClosed) {
			return nil // the fetch ended meanwhile
		}
		s.step(evStoreFailed{err: fmt.Errorf("writing leaf %d to %s: %w", i, s.fetch.Part(), err), now: s.svc.now()})
		return nil
	}
	s.step(evLeafStored{id: pc.id, index: i, now: s.svc.now()})
	return nil
}

// storeNode stores an internal node we asked the peer for.
func (s *session) storeNode(pc *peerConn, c cid.Cid, data []byte) error {
	f := s.fetch
	if err := f.PutNode(c, data); err != nil {
		switch {
		case errors.Is(err, chunker.ErrHashMismatch) || errors.Is(err, chunker.ErrMalformed):
			err = fmt.Errorf("%w: node %s: %w", ErrBadData, c, err)
			s.stepFrom(pc, evBadData{id: pc.id, err: err})
			return err
		case errors.Is(err, chunker.ErrFetchClosed):
			return nil
		case !errors.Is(err, chunker.ErrNotWanted):
			s.step(evStoreFailed{err: fmt.Errorf("storing node %s: %w", c, err), now: s.svc.now()})
			return nil
		}
	}
	ev := evNodeStored{id: pc.id, c: c, layout: f.Layout(), missing: f.Missing(), now: s.svc.now()}
	if ev.layout != nil {
		ev.have = f.Have()
	}
	s.step(ev)
	return nil
}

// tick runs the periodic work at now.
func (s *session) tick(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	rates := make(map[peer.ID]float64, len(s.conns))
	for id := range s.conns {
		ps, _ := s.acct.Peer(id, now)
		rates[id] = ps.DownRate
	}
	s.stepLocked(evTick{now: now, rates: rates})
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
	// "downloading", "verifying", "done", "failed", "cancelled", "stopped",
	// or "seeding" for a root we serve (also after its download is done),
	// "broken" for one we stopped serving because its source changed.
	State string `json:"state"`
	// Reason says why a fetch failed, in words a person can act on.
	Reason string `json:"reason,omitempty"`
	// Dest is where the verified content goes (downloads only).
	Dest string `json:"dest,omitempty"`
	// Name is the root's name, as shared or as announced by peers.
	Name string `json:"name,omitempty"`
	// Paid is what the fetch paid priced peers, in the ledger's base
	// units; PayMax its budget.
	Paid   uint64 `json:"paid,omitempty"`
	PayMax uint64 `json:"pay_max,omitempty"`
}

func (s *session) stats() SessionStats {
	now := s.svc.now()
	s.mu.Lock()
	st := s.st
	out := SessionStats{Root: s.root, Peers: len(s.conns), Size: -1, Bytes: st.bytes,
		Downloading: st.fetching, Received: st.received, State: st.stateName(),
		Reason: st.reason, Name: st.name}
	if st.layout != nil {
		out.Have, out.Leaves, out.Size = st.have.Count(), st.have.Len(), st.layout.Size
	}
	s.mu.Unlock()
	s.payMu.Lock()
	out.Paid, out.PayMax = s.paySpent, s.payMax
	s.payMu.Unlock()
	if s.fetch != nil {
		out.Dest = s.fetch.Dest()
	}
	t := s.acct.Totals(now)
	out.Uploaded, out.Downloaded, out.UpRate, out.DownRate = t.Uploaded, t.Downloaded, t.UpRate, t.DownRate
	return out
}

// peerIDs lists the session's peers, sorted.
func (s *session) peerIDs() []peer.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]peer.ID, 0, len(s.conns))
	for id := range s.conns {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
