package swarm

import (
	"cmp"
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

	// Clock is the swarm's one clock: the session logic (choker,
	// accounting, request timeouts, bans, the no-provider and idle limits)
	// and the rate limiters' waits (default WallClock).
	Clock Clock
	// Ticks drives the periodic work (rechoke, pipeline sizing, timeouts,
	// peer exchange); each receive runs one round at Clock.Now(). Default:
	// a one-second ticker owned by the service. Tests pass a channel and a
	// fake Clock to drive time.
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
	// write (real time: these are socket deadlines; default 20 s); and a
	// pause inside a block's body (on Clock, checked at each tick: a peer
	// that sends nothing of a block it started for that long is dropped
	// and reported to OnOverBudget).
	StreamTimeout time.Duration
	// SuperSeed chooses when a kept root is super-seeded (default
	// SuperSeedAuto: when its serving session starts while MaxUpload caps
	// the node).
	SuperSeed SuperSeedMode
	// Seed seeds the choker's and picker's randomness (0: random).
	Seed uint64
	// IdleLimit is the default FetchOptions.IdleLimit (default 10 min).
	IdleLimit time.Duration
	// RelayedData reports whether the limited (relayed) connection to a
	// peer goes through a relay that carries file data. A session opens
	// its stream over such a connection once no direct connection came
	// within directWait (the hole punch failed); over any other limited
	// connection it waits for a direct one. Nil means never.
	RelayedData func(peer.ID) bool
	// Budget bounds the control messages one peer may send us
	// (budget.go); OnOverBudget, if set, is told of a peer whose session
	// stream was reset for staying over it, or for stalling inside a
	// block longer than StreamTimeout (the node scores it).
	Budget       Budget
	OnOverBudget func(peer.ID)

	// OnBroken is called once per root, on a goroutine of its own, when
	// one of its blocks cannot be served because the file it refers to
	// changed or vanished; the service has stopped serving the root and
	// marked it broken in the store. The node stops providing the root.
	// It may call the service (Drop), and must return before Close can.
	OnBroken func(root cid.Cid, err error)

	// Price is what this node charges for a MiB of the leaves it uploads,
	// in the ledger's base units; 0 (the default) serves for free. PayTo
	// is the payee it announces with a price, opaque to the swarm, and
	// AcceptPayment checks and keeps the vouchers that pay it; both are
	// required with a price (see Payments in the package doc).
	Price         uint64
	PayTo         []byte
	AcceptPayment AcceptFunc
	// Pay pays priced peers for the fetches that have a budget
	// (FetchOptions.PayMax); nil: this node never pays.
	Pay PayFunc

	// Test hooks: corrupt alters leaves this node serves; freeRide makes
	// it download without ever uploading a leaf; refuseLeaves makes it
	// announce its leaves but reject every request for one.
	corrupt      func(index int, data []byte) []byte
	freeRide     bool
	refuseLeaves bool
	// served is called with every leaf this node sent, in order.
	served func(to peer.ID, index int)
	// writerIdle is called when a stream's writer has nothing left to
	// send and waits (the fake-clock tests' driver learns the swarm may be
	// idle).
	writerIdle func()
}

func (c Config) withDefaults() (Config, error) {
	if c.MaxUpload < 0 || c.MaxDownload < 0 || c.MaxSessionPeers < 0 || c.MaxPeers < 0 ||
		c.FindTimeout < 0 || c.RequestTimeout < 0 || c.BanDuration < 0 || c.PexInterval < 0 ||
		c.FindInterval < 0 || c.StreamTimeout < 0 {
		return c, errors.New("negative value")
	}
	if msg := checkTerms(c.Price, c.PayTo); msg != "" {
		return c, fmt.Errorf("price: %s", msg)
	}
	if c.Price > 0 && c.AcceptPayment == nil {
		return c, errors.New("price: no AcceptPayment to take the payments")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = WallClock{}
	}
	if c.IdleLimit < 0 {
		return c, errors.New("negative idle limit")
	}
	if c.SuperSeed < SuperSeedAuto || c.SuperSeed > SuperSeedOff {
		return c, fmt.Errorf("super-seed mode %d", c.SuperSeed)
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
	def(&c.IdleLimit, 10*time.Minute)
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
	clock Clock
	log   *slog.Logger
	up    *Limiter
	down  *Limiter
	acct  *Accounting
	// leafBufs bounds the received leaves waiting for the disk;
	// serveBufs the leaves being read to be sent (storeq.go).
	leafBufs  *leafBufs
	serveBufs *leafBufs
	// pay is the accounts of the peers that pay us (nil when free).
	pay *payBook
	// frames lends the session streams' readers the buffers they read
	// blocks into.
	frames *FramePool
	// budget holds each peer's control-message buckets.
	budget *budgets

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// Lock order: mu before a session's mu. lifeMu, banMu and infoMu are
	// leaves: nothing else is locked while they are held.
	mu       sync.Mutex
	sessions map[cid.Cid]*session
	streams  int
	rng      *rand.Rand

	lifeMu sync.Mutex
	closed bool

	banMu sync.Mutex
	bans  map[banKey]time.Time

	infoMu sync.Mutex
	// finished holds the final stats of failed and cancelled downloads,
	// the last maxFinished of them, oldest first in finishedOrder.
	finished      map[cid.Cid]SessionStats
	finishedOrder []cid.Cid
	// roots counts the bytes exchanged per root since the service started.
	roots map[cid.Cid]*rootBytes
	// broken lists the roots we stopped serving because their source
	// changed or vanished (logged and reported once each).
	broken map[cid.Cid]brokenMark
}

// brokenMark is a root we stopped serving. byStore: the store records it
// too, and is then the authority (sharing the file again clears it).
type brokenMark struct {
	reason  string
	byStore bool
}

type rootBytes struct{ up, down int64 }

// maxFinished bounds Service.Finished.
const maxFinished = 256

// Accounting bounds: a peer with no traffic for accountIdle, or beyond
// the maxAccounts most recent, is folded into the departed totals.
const (
	accountIdle = 10 * time.Minute
	maxAccounts = 1024
)

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
	now := cfg.Clock.Now()
	s := &Service{
		h:         h,
		store:     store,
		cfg:       cfg,
		clock:     cfg.Clock,
		log:       cfg.Logger,
		up:        NewLimiter(cfg.MaxUpload, now, cfg.Clock),
		down:      NewLimiter(cfg.MaxDownload, now, cfg.Clock),
		acct:      NewAccounting(0, now),
		leafBufs:  newLeafBufs(storeSlots),
		serveBufs: newLeafBufs(serveSlots),
		frames:    NewFramePool(frameSlots),
		budget:    newBudgets(cfg.Budget),
		ctx:       ctx,
		cancel:    cancel,
		sessions:  make(map[cid.Cid]*session),
		bans:      make(map[banKey]time.Time),
		rng:       rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		finished:  make(map[cid.Cid]SessionStats),
		roots:     make(map[cid.Cid]*rootBytes),
		broken:    make(map[cid.Cid]brokenMark),
	}
	if cfg.Price > 0 {
		s.pay = newPayBook(cfg.Price)
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

func (s *Service) now() time.Time { return s.clock.Now() }

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
		sess.step(evStop{err: fmt.Errorf("download %s: %w", sess.root, ErrClosed)})
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
		now := s.now()
		s.banMu.Lock()
		for k, until := range s.bans {
			if !now.Before(until) {
				delete(s.bans, k)
			}
		}
		s.banMu.Unlock()
		s.acct.Prune(now, accountIdle, maxAccounts)
		s.budget.sweep(now)
		for _, sess := range s.sessionList() {
			sess.dropStalled(now)
			sess.tick(now)
		}
	}
}

// SetMaxUpload changes the upload cap (bytes per second, 0 unlimited).
func (s *Service) SetMaxUpload(rate int64) { s.up.SetRate(rate, s.now()) }

// SetMaxDownload changes the download cap (bytes per second, 0 unlimited).
func (s *Service) SetMaxDownload(rate int64) { s.down.SetRate(rate, s.now()) }

// MaxRates returns the upload and download caps (0 unlimited).
func (s *Service) MaxRates() (up, down int64) { return s.up.Rate(), s.down.Rate() }

func (s *Service) banned(root cid.Cid, id peer.ID) bool {
	s.banMu.Lock()
	defer s.banMu.Unlock()
	until, ok := s.bans[banKey{root, id}]
	return ok && s.now().Before(until)
}

func (s *Service) ban(root cid.Cid, id peer.ID) {
	s.banMu.Lock()
	s.bans[banKey{root, id}] = s.now().Add(s.cfg.BanDuration)
	s.banMu.Unlock()
}

// Banned reports whether id is refused in root's session because it sent
// bad data.
func (s *Service) Banned(root cid.Cid, id peer.ID) bool { return s.banned(root, id) }

// markBroken records, once per root, that root's source changed or
// vanished: it is logged, marked in the store and reported to OnBroken.
func (s *Service) markBroken(root cid.Cid, err error) {
	reason := err.Error()
	s.infoMu.Lock()
	_, seen := s.broken[root]
	if !seen {
		s.broken[root] = brokenMark{reason: reason}
	}
	s.infoMu.Unlock()
	if seen {
		return
	}
	// One warning per root: the node's OnBroken says it (with what it did
	// about providing), or the service does when there is no callback.
	level := slog.LevelWarn
	if s.cfg.OnBroken != nil {
		level = slog.LevelDebug
	}
	s.log.Log(context.Background(), level, "stopped serving a root: its shared file changed or vanished; share the file again to serve it",
		"root", root, "err", err)
	if merr := s.store.MarkBroken(root, reason); merr != nil {
		s.log.Warn("mark root broken", "root", root, "err", merr)
	} else if info, rerr := s.store.Root(root); rerr == nil && info.Broken != "" {
		s.infoMu.Lock()
		s.broken[root] = brokenMark{reason: reason, byStore: true}
		s.infoMu.Unlock()
	}
	if s.cfg.OnBroken != nil {
		// On a goroutine of its own: the callback may call back into the
		// service (Drop waits for the session's executor, which is us).
		s.spawn(func() { s.cfg.OnBroken(root, err) })
	}
}

// isBroken reports whether root is not to be served: the store says so,
// or this service saw its source fail and the store could not record it.
// Once the store recorded it, the store decides: sharing the file again
// clears the mark, and a new failure is reported again.
func (s *Service) isBroken(root cid.Cid, info chunker.RootInfo) bool {
	if info.Broken != "" {
		return true
	}
	s.infoMu.Lock()
	defer s.infoMu.Unlock()
	m, ok := s.broken[root]
	if ok && m.byStore {
		delete(s.broken, root)
		return false
	}
	return ok
}

func (s *Service) rootUploaded(root cid.Cid, n int) {
	s.infoMu.Lock()
	s.rootBytes(root).up += int64(n)
	s.infoMu.Unlock()
}

func (s *Service) rootDownloaded(root cid.Cid, n int) {
	s.infoMu.Lock()
	s.rootBytes(root).down += int64(n)
	s.infoMu.Unlock()
}

// rootBytes returns root's counters; infoMu is held.
func (s *Service) rootBytes(root cid.Cid) *rootBytes {
	rb := s.roots[root]
	if rb == nil {
		rb = &rootBytes{}
		s.roots[root] = rb
	}
	return rb
}

// stateConfig is what a session's state needs of the configuration.
func (s *Service) stateConfig(opts FetchOptions) stateConfig {
	return stateConfig{
		self:           s.h.ID(),
		picker:         s.cfg.Picker,
		pipeline:       s.cfg.Pipeline,
		requestTimeout: s.cfg.RequestTimeout,
		pexInterval:    s.cfg.PexInterval,
		findInterval:   s.cfg.FindInterval,
		maxPeers:       s.cfg.MaxSessionPeers,
		timeout:        opts.Timeout,
		idleLimit:      opts.IdleLimit,
		useName:        opts.UseName,
		freeRide:       s.cfg.freeRide,
		refuseLeaves:   s.cfg.refuseLeaves,
		// A priced node sells its upload: a paying peer gets every leaf
		// it pays for, not only the ones super-seeding would let it have
		// while other peers trade (which stalls peers that cannot reach
		// each other).
		superSeed: s.cfg.SuperSeed == SuperSeedOn || s.cfg.SuperSeed == SuperSeedAuto && s.up.Rate() > 0 && s.cfg.Price == 0,
	}
}

// session returns the session of root: the running one, or a new serving
// session if root is kept and whole.
func (s *Service) session(root cid.Cid) (*session, error) {
	if sess := s.sessionFor(root); sess != nil {
		sess.mu.Lock()
		ph := sess.st.phase
		sess.mu.Unlock()
		switch ph {
		case phaseBroken:
			return nil, fmt.Errorf("session %s: the root is broken: its shared file changed or vanished", root)
		case phaseStopped, phaseFailed, phaseCancelled:
			// Ended, not yet removed (a seeding session ends with its
			// last peer, a broken one too): the peer asks again later.
			return nil, fmt.Errorf("session %s: ending", root)
		}
		return sess, nil
	}
	info, err := s.store.Root(root)
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", root, err)
	}
	if s.isBroken(root, info) {
		return nil, fmt.Errorf("session %s: the root is broken: its shared file changed or vanished", root)
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
	sess, err := s.newSession(root, nil, "", nil, layout, info.Name, FetchOptions{})
	if err != nil {
		return nil, err
	}
	s.sessions[root] = sess
	return sess, nil
}

// newSession builds a session and starts its executor; s.mu is held.
func (s *Service) newSession(root cid.Cid, f *chunker.Fetch, dest string, dl *Download, layout *chunker.Layout, name string, opts FetchOptions) (*session, error) {
	now := s.now()
	rng := rand.New(rand.NewPCG(s.rng.Uint64(), s.rng.Uint64()))
	chokerCfg := s.cfg.Choker
	chokerCfg.Priced = s.cfg.Price > 0
	ch, err := NewChoker(chokerCfg, rng, now)
	if err != nil {
		return nil, err
	}
	var have []bool
	var missing []cid.Cid
	if f != nil {
		have, missing = f.Have(), f.Missing()
	}
	st, err := newSessionState(s.stateConfig(opts), root, rng, ch, f != nil, layout, have, missing, name, now)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(s.ctx)
	sess := &session{
		svc:     s,
		root:    root,
		log:     s.log.With("root", root.String()),
		fetch:   f,
		dest:    dest,
		dl:      dl,
		acct:    NewAccounting(0, now),
		ctx:     ctx,
		stop:    stop,
		gone:    make(chan struct{}),
		st:      st,
		conns:   make(map[peer.ID]*peerConn),
		wake:    make(chan struct{}, 1),
		dialSem: make(chan struct{}, dialConcurrency),
	}
	if f != nil && s.cfg.Pay != nil {
		sess.payMax = opts.PayMax
	}
	if dl != nil {
		dl.sess = sess
	}
	if !s.spawn(sess.run) {
		stop()
		return nil, ErrClosed
	}
	return sess, nil
}

// dropSession removes an ended session; the final stats of a failed or
// cancelled download stay in Finished.
func (s *Service) dropSession(sess *session, st SessionStats) {
	s.mu.Lock()
	if s.sessions[sess.root] == sess {
		delete(s.sessions, sess.root)
	}
	s.mu.Unlock()
	if st.State == "failed" || st.State == "cancelled" {
		s.infoMu.Lock()
		if _, ok := s.finished[sess.root]; !ok {
			s.finishedOrder = append(s.finishedOrder, sess.root)
		}
		s.finished[sess.root] = st
		for len(s.finishedOrder) > maxFinished {
			delete(s.finished, s.finishedOrder[0])
			s.finishedOrder = s.finishedOrder[1:]
		}
		s.infoMu.Unlock()
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
// manager: one block (being received, in a buffer of the frame pool, or
// served, in one of serveSlots), its read buffer (small messages) and its
// write buffer.
const streamMemory = MaxMessageSize + smallFrame + 64<<10

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
	if err == nil {
		err = s.admitMessage(s.ctx, remote, 1+hs.payloadLen())
	}
	if err != nil {
		s.log.Debug("bad handshake", "peer", remote, "err", err)
		st.Reset()
		return
	}
	var pc *peerConn
	for range 2 { // once more if the session ended just now
		var sess *session
		sess, err = s.session(hs.Root)
		if err == nil && s.banned(hs.Root, remote) {
			err = fmt.Errorf("peer %s is banned", remote)
		}
		if err != nil {
			break
		}
		pc, err = sess.admit(st, r, hs, nil)
		if err == nil || !errors.Is(err, errSessionEnded) {
			if err != nil {
				sess.stopIfIdle()
			}
			break
		}
	}
	if err != nil {
		s.log.Debug("refuse session", "peer", remote, "root", hs.Root, "err", err)
		st.Reset()
		return
	}
	st.SetDeadline(time.Time{})
	pc.run()
}

// stopIfIdle ends a serving session that has no peer (one refused the
// first peer it was created for).
func (s *session) stopIfIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dl == nil && len(s.conns) == 0 && !s.ended {
		s.stepLocked(evStop{})
	}
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
	ctx, cancel := context.WithTimeout(sess.ctx, s.cfg.StreamTimeout)
	defer cancel()
	st, err := s.openStream(ctx, info.ID)
	if err != nil {
		return fmt.Errorf("open swarm stream to %s: %w", info.ID, err)
	}
	if err := prepareStream(st); err != nil {
		st.Reset()
		return err
	}
	st.SetDeadline(time.Now().Add(s.cfg.StreamTimeout))
	w := NewWriter(st)
	ours := sess.handshake()
	if err := w.WriteMessage(ours); err != nil {
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
	pc, err := sess.admit(st, r, hs, ours)
	if err != nil {
		st.Reset()
		return err
	}
	st.SetDeadline(time.Time{})
	if pc.price > 0 && pc.pay == nil && sess.paying() {
		// The fetch's budget rose while the stream opened: open it
		// again, saying we pay (raiseBudget).
		sess.dial(peer.AddrInfo{ID: info.ID})
	}
	pc.run()
	return nil
}

// directWait is how long opening a session stream waits for a direct
// connection to a peer reached only through a relay (a hole punch takes
// well under a second where it works; DCUtR tries three times) before it
// uses a relay that carries data.
const directWait = 10 * time.Second

// openStream opens a session stream to p over a direct connection. If p is
// reached only through a relay that carries data (Config.RelayedData) and
// no direct connection came within directWait, it opens the stream over
// the relay; otherwise it goes on waiting for a direct one until ctx ends.
func (s *Service) openStream(ctx context.Context, p peer.ID) (network.Stream, error) {
	if s.cfg.RelayedData == nil {
		return s.h.NewStream(ctx, p, protocol.ID(ProtocolID))
	}
	direct, cancel := context.WithTimeout(ctx, directWait)
	st, err := s.h.NewStream(direct, p, protocol.ID(ProtocolID))
	cancel()
	if err == nil || ctx.Err() != nil {
		return st, err
	}
	if !s.cfg.RelayedData(p) {
		return s.h.NewStream(ctx, p, protocol.ID(ProtocolID))
	}
	s.log.Debug("no direct connection; the relay carries the session", "peer", p, "err", err)
	return s.h.NewStream(network.WithAllowLimitedConn(ctx, "myco swarm over a relay that carries data"), p, protocol.ID(ProtocolID))
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
	// IdleLimit is how long the fetch may go with peers that have the
	// root but without any block arriving before it fails with
	// ErrNoDelivery (default Config.IdleLimit, 10 min).
	IdleLimit time.Duration
	// Force lets the fetch replace an existing destination.
	Force bool
	// UseName: dest is the fallback path (named after the CID); the name
	// peers announce for the root replaces its last element when known.
	UseName bool
	// PayMax is the most the fetch may pay priced peers in all, in the
	// ledger's base units (0: it pays nothing; needs Config.Pay). Fetching
	// a root that is already downloading raises its budget to PayMax.
	PayMax uint64
}

// Fetch starts downloading root into dest and returns at once; the
// download runs until it completes, fails, is stopped or cancelled, or the
// service closes. dest "" resumes an interrupted fetch of root (see
// Resume). If root is already being downloaded, its Download is returned;
// a failed or cancelled earlier fetch of root is forgotten (Finished) and
// this one starts clean. ctx bounds only the start.
//
// The fetch announces root through Provide at once (a downloader serves
// what it has), asks connected peers and FindProviders for peers, gets the
// internal nodes, then the leaves from many peers in parallel.
func (s *Service) Fetch(ctx context.Context, root cid.Cid, dest string, opts FetchOptions) (*Download, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = s.cfg.FindTimeout
	}
	if opts.IdleLimit <= 0 {
		opts.IdleLimit = s.cfg.IdleLimit
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("fetch %s: %w", root, err)
		}
		if s.isClosed() {
			return nil, fmt.Errorf("fetch %s: %w", root, ErrClosed)
		}
		sess := s.sessionFor(root)
		if sess == nil {
			break
		}
		sess.mu.Lock()
		ended := sess.ended
		sess.mu.Unlock()
		if !ended {
			if dl := sess.download(); dl != nil {
				sess.raiseBudget(opts.PayMax)
				return dl, nil
			}
			return nil, fmt.Errorf("fetch %s: %w", root, chunker.ErrAlreadyKept)
		}
		// The session is ending: wait until its fetch is released.
		select {
		case <-sess.gone:
		case <-ctx.Done():
			return nil, fmt.Errorf("fetch %s: %w", root, ctx.Err())
		}
	}
	s.Forget(root)
	f, err := s.store.StartFetch(root, dest, chunker.FetchOptions{Force: opts.Force})
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", root, err)
	}
	s.mu.Lock()
	if sess := s.sessions[root]; sess != nil { // raced with another Fetch
		s.mu.Unlock()
		if dl := sess.download(); dl != nil {
			sess.raiseBudget(opts.PayMax)
			return dl, nil
		}
		return nil, fmt.Errorf("fetch %s: %w", root, chunker.ErrAlreadyKept)
	}
	dl := newDownload()
	sess, err := s.newSession(root, f, f.Dest(), dl, f.Layout(), "", opts)
	if err != nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("fetch %s: %w", root, err)
	}
	s.sessions[root] = sess
	s.mu.Unlock()
	sess.step(evStart{now: s.now()})
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
// keepPartial); the download ends with ErrCancelled and its final stats
// stay in Finished. It returns once the fetch is released, so a Fetch of
// root right after starts clean. A root whose download completed (it is
// seeding) or that is not being fetched is ErrNotFetching.
func (s *Service) Cancel(root cid.Cid, keepPartial bool) error {
	dl := s.Download(root)
	if dl == nil || !dl.running() {
		return fmt.Errorf("cancel %s: %w", root, ErrNotFetching)
	}
	dl.Cancel(keepPartial)
	return nil
}

// PeerAddrs lists the peers of unfinished downloads with the addresses in
// our peerstore, so the node can remember them across a restart and
// redial them.
func (s *Service) PeerAddrs() []peer.AddrInfo {
	seen := map[peer.ID]bool{}
	var out []peer.AddrInfo
	for _, sess := range s.sessionList() {
		if sess.dl == nil || !sess.dl.running() {
			continue
		}
		for _, id := range sess.peerIDs() {
			if seen[id] {
				continue
			}
			seen[id] = true
			if addrs := s.h.Peerstore().Addrs(id); len(addrs) > 0 {
				out = append(out, peer.AddrInfo{ID: id, Addrs: addrs})
			}
		}
	}
	slices.SortFunc(out, func(a, b peer.AddrInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// RootTotals returns the bytes uploaded and downloaded for root since the
// service started, over every session of it (ID and rates are empty).
func (s *Service) RootTotals(root cid.Cid) PeerStats {
	s.infoMu.Lock()
	defer s.infoMu.Unlock()
	if rb := s.roots[root]; rb != nil {
		return PeerStats{Uploaded: rb.up, Downloaded: rb.down}
	}
	return PeerStats{}
}

// Download returns the download of root while its session runs (also
// while it seeds after completing), or nil.
func (s *Service) Download(root cid.Cid) *Download {
	sess := s.sessionFor(root)
	if sess == nil {
		return nil
	}
	return sess.download()
}

// Drop ends root's session, if any. A download still running is
// cancelled (its partial data removed; it ends with ErrCancelled), as for
// `rm`; a seeding session just stops. It returns once the session ended.
// The node calls it when the root is removed from the store.
func (s *Service) Drop(root cid.Cid) {
	sess := s.sessionFor(root)
	if sess == nil {
		return
	}
	if sess.dl != nil && sess.dl.running() {
		sess.dl.Cancel(false)
		return
	}
	sess.step(evStop{err: fmt.Errorf("download %s: %w", root, ErrStopped)})
	<-sess.gone
}

// Finished returns the final stats of root's last download if it failed
// or was cancelled, until root is fetched again or forgotten.
func (s *Service) Finished(root cid.Cid) (SessionStats, bool) {
	s.infoMu.Lock()
	defer s.infoMu.Unlock()
	st, ok := s.finished[root]
	return st, ok
}

// FinishedList returns Finished for every root that has it (the last 256),
// oldest first.
func (s *Service) FinishedList() []SessionStats {
	s.infoMu.Lock()
	defer s.infoMu.Unlock()
	out := make([]SessionStats, 0, len(s.finishedOrder))
	for _, c := range s.finishedOrder {
		out = append(out, s.finished[c])
	}
	return out
}

// Forget drops root's Finished entry; it reports whether there was one.
func (s *Service) Forget(root cid.Cid) bool {
	s.infoMu.Lock()
	defer s.infoMu.Unlock()
	if _, ok := s.finished[root]; !ok {
		return false
	}
	delete(s.finished, root)
	s.finishedOrder = slices.DeleteFunc(s.finishedOrder, func(c cid.Cid) bool { return c.Equals(root) })
	return true
}

// PeerInfo is what `myco swarm stats --json` prints per peer: bytes and
// rates exchanged since the service started, whether we choke it (in every
// session it is in; true when it is in none) and whether it is interested
// in us (in any).
type PeerInfo struct {
	ID         peer.ID `json:"id"`
	Uploaded   int64   `json:"uploaded"`
	Downloaded int64   `json:"downloaded"`
	UpRate     float64 `json:"up_rate"`
	DownRate   float64 `json:"down_rate"`
	Choked     bool    `json:"choked"`
	Interested bool    `json:"interested"`
}

// Stats returns per-peer stats of every peer exchanged with since the
// service started (peers gone for a while are folded into Departed),
// sorted by ID.
func (s *Service) Stats() []PeerInfo {
	now := s.now()
	type flags struct{ unchoked, interested bool }
	seen := map[peer.ID]*flags{}
	for _, sess := range s.sessionList() {
		sess.mu.Lock()
		for id, ps := range sess.st.peers {
			f := seen[id]
			if f == nil {
				f = &flags{}
				seen[id] = f
			}
			f.unchoked = f.unchoked || !ps.amChoking
			f.interested = f.interested || ps.peerInterested
		}
		sess.mu.Unlock()
	}
	all := s.acct.Stats(now)
	out := make([]PeerInfo, 0, len(all))
	for _, ps := range all {
		f := seen[ps.ID]
		if f == nil {
			f = &flags{}
		}
		out = append(out, PeerInfo{ID: ps.ID, Uploaded: ps.Uploaded, Downloaded: ps.Downloaded,
			UpRate: ps.UpRate, DownRate: ps.DownRate, Choked: !f.unchoked, Interested: f.interested})
	}
	return out
}

// Totals returns the bytes and rates over every peer, past and present.
func (s *Service) Totals() PeerStats { return s.acct.Totals(s.now()) }

// Departed returns the bytes exchanged with peers folded out of Stats
// (gone for 10 minutes, or beyond the 1024 most recent).
func (s *Service) Departed() PeerStats { return s.acct.Departed() }

func (s *Service) sessionFor(root cid.Cid) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[root]
}

// SessionStats returns the state of root's session, if one is running.
func (s *Service) SessionStats(root cid.Cid) (SessionStats, bool) {
	sess := s.sessionFor(root)
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
	slices.SortFunc(out, func(a, b SessionStats) int { return cmp.Compare(a.Root.KeyString(), b.Root.KeyString()) })
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
