package swarm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/myco-p2p/myco/chunker"
)

// ServiceName is the libp2p resource-manager service every session stream
// is attached to.
const ServiceName = "myco.swarm"

// Errors of the session layer.
var (
	// ErrClosed: the service is closed.
	ErrClosed = errors.New("swarm service closed")
	// ErrNoProviders: no peer that has the root was found before the
	// fetch's timeout.
	ErrNoProviders = errors.New("no peer provides the root")
	// ErrStopped: the download was stopped by Stop; what it fetched stays
	// on disk and can be resumed.
	ErrStopped = errors.New("download stopped")
	// ErrCancelled: the download was cancelled; its partial data is gone
	// (unless kept on request).
	ErrCancelled = errors.New("download cancelled")
	// ErrBadData: a peer sent a block that does not hash to its CID (or is
	// malformed); it is dropped and banned from the session.
	ErrBadData = errors.New("peer sent bad data")
	// errProtocol marks a peer that broke the protocol's rules.
	errProtocol = errors.New("protocol violation")
)

// FindProvidersFunc looks up peers that provide root, at most limit of them.
// The channel is closed when the lookup ends. (*dht.DHT).FindProviders
// wrapped in a closure fits.
type FindProvidersFunc func(ctx context.Context, root cid.Cid, limit int) (<-chan peer.AddrInfo, error)

// ProvideFunc announces that this node provides root.
type ProvideFunc func(ctx context.Context, root cid.Cid) error

// Config configures a Service. A zero field takes its default.
type Config struct {
	// Logger receives the service's logs (default: discard).
	Logger *slog.Logger
	// FindProviders and Provide connect the service to content routing
	// (the node passes the DHT). Either may be nil: a fetch then only asks
	// connected peers, or announces nothing.
	FindProviders FindProvidersFunc
	Provide       ProvideFunc

	// Now is the clock of the session logic: choker, accounting, request
	// timeouts, bans, the no-provider timeout (default time.Now).
	Now func() time.Time
	// Ticks drives the periodic work (rechoke, pipeline sizing, timeouts,
	// peer exchange); each receive runs one round at Now(). Default: a
	// one-second ticker owned by the service. Tests pass a channel and a
	// fake Now to drive time.
	Ticks <-chan time.Time

	// MaxUpload and MaxDownload cap the node's block traffic in bytes per
	// second; 0 is unlimited. SetMaxUpload/SetMaxDownload change them later.
	MaxUpload, MaxDownload int64

	Choker   ChokerConfig
	Picker   PickerConfig
	Pipeline PipelineConfig

	// MaxSessionPeers bounds the peers of one session (default 32);
	// MaxPeers the session streams of the whole service (default 128).
	// Each stream holds at most about 2 MiB (a read buffer and one block
	// being served), so these bound memory too.
	MaxSessionPeers, MaxPeers int
	// FindTimeout is how long a fetch may go without any peer that has the
	// root before it fails with ErrNoProviders (default 60 s); a fetch can
	// override it.
	FindTimeout time.Duration
	// RequestTimeout is how long a requested block may take (default 30 s);
	// then it is requested again, from another peer if possible.
	RequestTimeout time.Duration
	// BanDuration is how long a peer that sent bad data is refused for the
	// root (default 1 h).
	BanDuration time.Duration
	// PexInterval is how often session peers are told about each other
	// (default 60 s; always at once when a peer joins).
	PexInterval time.Duration
	// FindInterval is how often providers are looked up again while a
	// download has fewer than MaxSessionPeers peers (default 30 s).
	FindInterval time.Duration
	// StreamTimeout bounds opening a stream and the handshake, and every
	// write (real time: these are socket deadlines; default 20 s).
	StreamTimeout time.Duration
	// Seed seeds the choker's and picker's randomness (0: random).
	Seed uint64
	// IdleLimit is the default FetchOptions.IdleLimit (default 10 min).
	IdleLimit time.Duration
	// OnBroken is called once per root when one of its blocks cannot be
	// served because the file it refers to changed or vanished; the
	// service has stopped serving the root and marked it broken in the
	// store. It must not block.
	OnBroken func(root cid.Cid, err error)

	// Test hooks: corrupt alters leaves this node serves; freeRide makes
	// it download without ever uploading a leaf.
	corrupt  func(index int, data []byte) []byte
	freeRide bool
}

func (c Config) withDefaults() (Config, error) {
	if c.MaxUpload < 0 || c.MaxDownload < 0 || c.MaxSessionPeers < 0 || c.MaxPeers < 0 ||
		c.FindTimeout < 0 || c.RequestTimeout < 0 || c.BanDuration < 0 || c.PexInterval < 0 ||
		c.FindInterval < 0 || c.StreamTimeout < 0 {
		return c, errors.New("negative value")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.FindTimeout, 60*time.Second)
	def(&c.RequestTimeout, 30*time.Second)
	def(&c.BanDuration, time.Hour)
	def(&c.PexInterval, 60*time.Second)
	def(&c.FindInterval, 30*time.Second)
	def(&c.StreamTimeout, 20*time.Second)
	if c.MaxSessionPeers == 0 {
		c.MaxSessionPeers = 32
	}
	if c.MaxPeers == 0 {
		c.MaxPeers = 128
	}
	var err error
	if c.Choker, err = c.Choker.withDefaults(); err != nil {
		return c, err
	}
	if c.Picker, err = c.Picker.withDefaults(); err != nil {
		return c, err
	}
	if c.Pipeline, err = c.Pipeline.withDefaults(); err != nil {
		return c, err
	}
	return c, nil
}

// Service runs /myco/swarm/1.0.0 on a libp2p host: it serves every kept
// root of the store (and the leaves already on disk of roots being fetched)
// and runs downloads. Close ends every goroutine it started.
type Service struct {
	h     host.Host
	store *chunker.Store
	cfg   Config
	log   *slog.Logger
	up    *Limiter
	down  *Limiter
	acct  *Accounting
	// leafBufs bounds the received leaves waiting for the disk.
	leafBufs *leafBufs

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// Lock order: mu before a session's mu. lifeMu and banMu are leaves:
	// nothing else is locked while they are held.
	mu       sync.Mutex
	sessions map[cid.Cid]*session
	streams  int
	rng      *rand.Rand

	lifeMu sync.Mutex
	closed bool

	banMu sync.Mutex
	bans  map[banKey]time.Time
}

type banKey struct {
	root cid.Cid
	id   peer.ID
}

// New starts the service on h, serving and fetching through store.
func New(h host.Host, store *chunker.Store, cfg Config) (*Service, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("new swarm service: %w", err)
	}
	if h == nil || store == nil {
		return nil, errors.New("new swarm service: nil host or store")
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	ctx, cancel := context.WithCancel(context.Background())
	now := cfg.Now()
	s := &Service{
		h:        h,
		store:    store,
		cfg:      cfg,
		log:      cfg.Logger,
		up:       NewLimiter(cfg.MaxUpload, time.Now(), nil),
		down:     NewLimiter(cfg.MaxDownload, time.Now(), nil),
		acct:     NewAccounting(0, now),
		leafBufs: newLeafBufs(storeSlots),
		ctx:      ctx,
		cancel:   cancel,
		sessions: make(map[cid.Cid]*session),
		bans:     make(map[banKey]time.Time),
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
	ticks := cfg.Ticks
	var ticker *time.Ticker
	if ticks == nil {
		ticker = time.NewTicker(time.Second)
		ticks = ticker.C
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if ticker != nil {
			defer ticker.Stop()
		}
		s.tickLoop(ticks)
	}()
	h.SetStreamHandler(protocol.ID(ProtocolID), s.handleStream)
	return s, nil
}

// Close stops the service: the protocol handler is removed, every stream
// reset, every download ends with ErrClosed (its data stays on disk, to be
// resumed), and Close waits for every goroutine the service started.
func (s *Service) Close() error {
	s.lifeMu.Lock()
	if s.closed {
		s.lifeMu.Unlock()
		return nil
	}
	s.closed = true
	s.lifeMu.Unlock()
	s.h.RemoveStreamHandler(protocol.ID(ProtocolID))
	s.cancel()
	for _, sess := range s.sessionList() {
		sess.shutdown(ErrClosed)
	}
	s.wg.Wait()
	return nil
}

// spawn runs f on a goroutine the service owns, unless the service is
// closed; it reports whether f was started.
func (s *Service) spawn(f func()) bool {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

// enter counts the caller (a libp2p handler goroutine) as running in the
// service; it returns false once the service is closed.
func (s *Service) enter() bool {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

func (s *Service) isClosed() bool {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	return s.closed
}

func (s *Service) tickLoop(ticks <-chan time.Time) {
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-ticks:
		}
		now := s.cfg.Now()
		s.banMu.Lock()
		for k, until := range s.bans {
			if !now.Before(until) {
				delete(s.bans, k)
			}
		}
		s.banMu.Unlock()
		for _, sess := range s.sessionList() {
			sess.tick(now)
		}
	}
}

// SetMaxUpload changes the upload cap (bytes per second, 0 unlimited).
func (s *Service) SetMaxUpload(rate int64) { s.up.SetRate(rate, time.Now()) }

// SetMaxDownload changes the download cap (bytes per second, 0 unlimited).
func (s *Service) SetMaxDownload(rate int64) { s.down.SetRate(rate, time.Now()) }

// MaxRates returns the upload and download caps (0 unlimited).
func (s *Service) MaxRates() (up, down int64) { return s.up.Rate(), s.down.Rate() }

func (s *Service) banned(root cid.Cid, id peer.ID) bool {
	s.banMu.Lock()
	defer s.banMu.Unlock()
	until, ok := s.bans[banKey{root, id}]
	return ok && s.cfg.Now().Before(until)
}

func (s *Service) ban(root cid.Cid, id peer.ID) {
	s.banMu.Lock()
	s.bans[banKey{root, id}] = s.cfg.Now().Add(s.cfg.BanDuration)
	s.banMu.Unlock()
}

// Banned reports whether id is refused in root's session because it sent
// bad data.
func (s *Service) Banned(root cid.Cid, id peer.ID) bool { return s.banned(root, id) }

// session returns the session of root: the running one, or a new serving
// session if root is kept. It returns nil if root is neither.
func (s *Service) session(root cid.Cid) (*session, error) {
	s.mu.Lock()
	if sess := s.sessions[root]; sess != nil {
		s.mu.Unlock()
		return sess, nil
	}
	s.mu.Unlock()
	if _, err := s.store.Root(root); err != nil {
		return nil, fmt.Errorf("session %s: %w", root, err)
	}
	layout, err := s.store.Leaves(s.ctx, root)
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", root, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isClosed() {
		return nil, ErrClosed
	}
	if sess := s.sessions[root]; sess != nil {
		return sess, nil
	}
	sess, err := s.newSession(root, nil, layout)
	if err != nil {
		return nil, err
	}
	s.sessions[root] = sess
	return sess, nil
}

// newSession builds a session; s.mu is held.
func (s *Service) newSession(root cid.Cid, f *chunker.Fetch, layout *chunker.Layout) (*session, error) {
	now := s.cfg.Now()
	rng := rand.New(rand.NewPCG(s.rng.Uint64(), s.rng.Uint64()))
	ch, err := NewChoker(s.cfg.Choker, rng, now)
	if err != nil {
		return nil, err
	}
	sess := &session{
		svc:      s,
		root:     root,
		log:      s.log.With("root", root.String()),
		fetch:    f,
		rng:      rng,
		choker:   ch,
		acct:     NewAccounting(0, now),
		peers:    make(map[peer.ID]*peerConn),
		dialing:  make(map[peer.ID]bool),
		nodeReqs: make(map[cid.Cid]nodeReq),
		started:  now,
		lastPex:  now,
		lastFind: now,
		useful:   now,
	}
	if f == nil {
		sess.seeding = true
		ch.SetSeeding(true, now)
	}
	if layout != nil {
		if err := sess.setLayout(layout, now); err != nil {
			return nil, err
		}
	}
	return sess, nil
}

func (s *Service) dropSession(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[sess.root] == sess {
		delete(s.sessions, sess.root)
	}
}

// takeStream counts a new session stream against MaxPeers.
func (s *Service) takeStream() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streams >= s.cfg.MaxPeers {
		return false
	}
	s.streams++
	return true
}

func (s *Service) releaseStream() {
	s.mu.Lock()
	s.streams--
	s.mu.Unlock()
}

// streamMemory is what a session stream reserves from the resource
// manager: its read buffer and one block being served.
const streamMemory = 2*MaxMessageSize + 64<<10

// prepareStream attaches st to the service's resource scope.
func prepareStream(st network.Stream) error {
	if err := st.Scope().SetService(ServiceName); err != nil {
		return fmt.Errorf("attach stream to %s: %w", ServiceName, err)
	}
	if err := st.Scope().ReserveMemory(streamMemory, network.ReservationPriorityAlways); err != nil {
		return fmt.Errorf("reserve stream memory: %w", err)
	}
	return nil
}

// handleStream answers a peer that opens a session: it reads the
// handshake, finds the session of its root and answers with ours.
func (s *Service) handleStream(st network.Stream) {
	if !s.enter() {
		st.Reset()
		return
	}
	defer s.wg.Done()
	remote := st.Conn().RemotePeer()
	if err := prepareStream(st); err != nil {
		s.log.Debug("refuse swarm stream", "peer", remote, "err", err)
		st.Reset()
		return
	}
	if !s.takeStream() {
		s.log.Debug("refuse swarm stream: too many peers", "peer", remote)
		st.Reset()
		return
	}
	defer s.releaseStream()
	st.SetDeadline(time.Now().Add(s.cfg.StreamTimeout))
	r := NewReader(st, MaxMessageSize)
	hs, err := readHandshake(r)
	if err != nil {
		s.log.Debug("bad handshake", "peer", remote, "err", err)
		st.Reset()
		return
	}
	sess, err := s.session(hs.Root)
	if err != nil || s.banned(hs.Root, remote) {
		s.log.Debug("refuse session", "peer", remote, "root", hs.Root, "err", err)
		st.Reset()
		return
	}
	pc, err := sess.admit(st, r, hs, false)
	if err != nil {
		s.log.Debug("refuse session", "peer", remote, "root", hs.Root, "err", err)
		st.Reset()
		return
	}
	st.SetDeadline(time.Time{})
	pc.run()
}

// connect opens a session stream to a peer for sess's root and runs it.
func (s *Service) connect(sess *session, info peer.AddrInfo) error {
	if len(info.Addrs) > 0 {
		s.h.Peerstore().AddAddrs(info.ID, info.Addrs, peerstore.TempAddrTTL)
	}
	if !s.takeStream() {
		return errors.New("too many peers")
	}
	defer s.releaseStream()
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.StreamTimeout)
	defer cancel()
	st, err := s.h.NewStream(ctx, info.ID, protocol.ID(ProtocolID))
	if err != nil {
		return fmt.Errorf("open swarm stream to %s: %w", info.ID, err)
	}
	if err := prepareStream(st); err != nil {
		st.Reset()
		return err
	}
	st.SetDeadline(time.Now().Add(s.cfg.StreamTimeout))
	w := NewWriter(st)
	if err := w.WriteMessage(sess.handshake()); err != nil {
		st.Reset()
		return fmt.Errorf("handshake with %s: %w", info.ID, err)
	}
	r := NewReader(st, MaxMessageSize)
	hs, err := readHandshake(r)
	if err == nil && !hs.Root.Equals(sess.root) {
		err = fmt.Errorf("%w: handshake for %s, asked for %s", errProtocol, hs.Root, sess.root)
	}
	if err != nil {
		st.Reset()
		return fmt.Errorf("handshake with %s: %w", info.ID, err)
	}
	pc, err := sess.admit(st, r, hs, true)
	if err != nil {
		st.Reset()
		return err
	}
	st.SetDeadline(time.Time{})
	pc.run()
	return nil
}

func readHandshake(r *Reader) (*Handshake, error) {
	m, err := r.ReadMessage()
	if err != nil {
		return nil, fmt.Errorf("read handshake: %w", err)
	}
	hs, ok := m.(*Handshake)
	if !ok {
		return nil, fmt.Errorf("%w: %v before the handshake", errProtocol, m.Type())
	}
	if hs.Version != ProtocolVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", errProtocol, hs.Version, ProtocolVersion)
	}
	return hs, nil
}

// FetchOptions tune one fetch.
type FetchOptions struct {
	// Timeout is how long the fetch may go without any peer that has the
	// root before it fails with ErrNoProviders (default Config.FindTimeout).
	Timeout time.Duration
	// IdleLimit is how long the fetch may go with peers but without any
	// leaf arriving before it fails (default Config.IdleLimit, 10 min).
	IdleLimit time.Duration
	// Force lets the fetch replace an existing destination.
	Force bool
	// UseName: dest is the fallback path (named after the CID); the name
	// peers announce for the root replaces its last element when known.
	UseName bool
}

// Fetch starts downloading root into dest and returns at once; the
// download runs until it completes, fails, is stopped, or the service
// closes. dest "" resumes an interrupted fetch of root (see Resume). If
// root is already being downloaded, its Download is returned. ctx bounds
// only the start.
//
// The fetch announces root through Provide at once (a downloader serves
// what it has), asks connected peers and FindProviders for peers, gets the
// internal nodes, then the leaves from many peers in parallel.
func (s *Service) Fetch(ctx context.Context, root cid.Cid, dest string, opts FetchOptions) (*Download, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fetch %s: %w", root, err)
	}
	if s.isClosed() {
		return nil, fmt.Errorf("fetch %s: %w", root, ErrClosed)
	}
	s.mu.Lock()
	if sess := s.sessions[root]; sess != nil {
		s.mu.Unlock()
		if dl := sess.download(); dl != nil {
			return dl, nil
		}
		return nil, fmt.Errorf("fetch %s: %w", root, chunker.ErrAlreadyKept)
	}
	s.mu.Unlock()
	f, err := s.store.StartFetch(root, dest, chunker.FetchOptions{Force: opts.Force})
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", root, err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = s.cfg.FindTimeout
	}
	s.mu.Lock()
	if sess := s.sessions[root]; sess != nil { // raced with another Fetch
		s.mu.Unlock()
		if dl := sess.download(); dl != nil {
			return dl, nil
		}
		return nil, fmt.Errorf("fetch %s: %w", root, chunker.ErrAlreadyKept)
	}
	sess, err := s.newSession(root, f, f.Layout())
	if err != nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("fetch %s: %w", root, err)
	}
	dl := newDownload(sess, dest != "", opts.Timeout)
	sess.dl = dl
	complete := f.Complete()
	sess.finishing = complete
	s.sessions[root] = sess
	s.mu.Unlock()
	if !s.spawn(sess.discover) {
		sess.shutdown(ErrClosed)
		return nil, fmt.Errorf("fetch %s: %w", root, ErrClosed)
	}
	if complete { // nothing to download (every leaf on disk, or empty)
		s.spawn(sess.finish)
	}
	return dl, nil
}

// Resume restarts every fetch the store records as unfinished (after a
// restart); only the leaves not yet on disk are downloaded.
func (s *Service) Resume(ctx context.Context) ([]*Download, error) {
	inc, err := s.store.Incoming()
	if err != nil {
		return nil, fmt.Errorf("resume fetches: %w", err)
	}
	var out []*Download
	var errs []error
	for _, in := range inc {
		dl, err := s.Fetch(ctx, in.Root, "", FetchOptions{})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, dl)
	}
	return out, errors.Join(errs...)
}

// ErrNotFetching: Cancel of a root that has no running download.
var ErrNotFetching = errors.New("root is not being fetched")

// Cancel stops root's download and removes its partial data (kept with
// keepPartial). The download ends with ErrCancelled.
func (s *Service) Cancel(root cid.Cid, keepPartial bool) error {
	dl := s.Download(root)
	if dl == nil {
		return fmt.Errorf("cancel %s: %w", root, ErrNotFetching)
	}
	dl.Cancel(keepPartial)
	return nil
}

// PeerAddrs lists the peers of unfinished downloads with their addresses,
// so the node can remember them across a restart.
func (s *Service) PeerAddrs() []peer.AddrInfo { return nil }

// RootTotals returns the bytes exchanged for root since the service
// started.
func (s *Service) RootTotals(root cid.Cid) PeerStats {
	if st, ok := s.SessionStats(root); ok {
		return PeerStats{Uploaded: st.Uploaded, Downloaded: st.Downloaded}
	}
	return PeerStats{}
}

// Download returns the running download of root, or nil.
func (s *Service) Download(root cid.Cid) *Download {
	s.mu.Lock()
	sess := s.sessions[root]
	s.mu.Unlock()
	if sess == nil {
		return nil
	}
	return sess.download()
}

// Drop ends root's session, if any: its peers are disconnected and a
// running download ends with ErrStopped (its data stays, to be resumed).
// The node calls it when the root is removed from the store.
func (s *Service) Drop(root cid.Cid) {
	if sess := s.sessionFor(root); sess != nil {
		sess.shutdown(ErrStopped)
	}
}

// PeerInfo is what `myco swarm stats --json` prints per peer: bytes and
// rates exchanged over every session, whether we choke it (in every
// session it is in) and whether it is interested in us (in any).
type PeerInfo struct {
	ID         peer.ID `json:"id"`
	Uploaded   int64   `json:"uploaded"`
	Downloaded int64   `json:"downloaded"`
	UpRate     float64 `json:"up_rate"`
	DownRate   float64 `json:"down_rate"`
	Choked     bool    `json:"choked"`
	Interested bool    `json:"interested"`
}

// Stats returns per-peer stats of the peers in any session, sorted by ID.
func (s *Service) Stats() []PeerInfo {
	now := s.cfg.Now()
	type flags struct{ unchoked, interested bool }
	seen := map[peer.ID]*flags{}
	for _, sess := range s.sessionList() {
		sess.mu.Lock()
		for id, pc := range sess.peers {
			f := seen[id]
			if f == nil {
				f = &flags{}
				seen[id] = f
			}
			f.unchoked = f.unchoked || !pc.amChoking
			f.interested = f.interested || pc.peerInterested
		}
		sess.mu.Unlock()
	}
	out := make([]PeerInfo, 0, len(seen))
	for id, f := range seen {
		ps, _ := s.acct.Peer(id, now)
		out = append(out, PeerInfo{ID: id, Uploaded: ps.Uploaded, Downloaded: ps.Downloaded,
			UpRate: ps.UpRate, DownRate: ps.DownRate, Choked: !f.unchoked, Interested: f.interested})
	}
	slices.SortFunc(out, func(a, b PeerInfo) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out
}

// Totals returns the bytes and rates over every peer, past and present.
func (s *Service) Totals() PeerStats { return s.acct.Totals(s.cfg.Now()) }

func (s *Service) sessionFor(root cid.Cid) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[root]
}

// SessionStats returns the state of root's session, if one is running.
func (s *Service) SessionStats(root cid.Cid) (SessionStats, bool) {
	s.mu.Lock()
	sess := s.sessions[root]
	s.mu.Unlock()
	if sess == nil {
		return SessionStats{}, false
	}
	return sess.stats(), true
}

// Sessions returns the state of every running session.
func (s *Service) Sessions() []SessionStats {
	var out []SessionStats
	for _, sess := range s.sessionList() {
		out = append(out, sess.stats())
	}
	slices.SortFunc(out, func(a, b SessionStats) int {
		if a.Root.KeyString() < b.Root.KeyString() {
			return -1
		}
		return 1
	})
	return out
}

func (s *Service) sessionList() []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		out = append(out, sess)
	}
	return out
}
