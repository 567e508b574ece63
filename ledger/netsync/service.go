package netsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/myco-p2p/myco/ledger"
)

// ServiceName is the resource-manager service of the chain protocol's
// streams.
const ServiceName = "myco.chain"

// ErrNotStarted is returned by calls that need a started service.
var ErrNotStarted = errors.New("netsync: service not started")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("netsync: service closed")

// Config configures a Service. Zero values take the defaults in brackets.
type Config struct {
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock handed to the ledger (future-timestamp rule) and
	// used for orphan ages, bans and future blocks [time.Now].
	Now func() time.Time
	// Ticks drives housekeeping: expiring orphans, reconsidering future
	// blocks, decaying misbehaviour. Nil: the service ticks every
	// TickInterval [1 s] on its own ticker.
	Ticks        <-chan time.Time
	TickInterval time.Duration
	// Blocklist holds banned peers. Pass the one given to
	// libp2p.ConnectionGater so bans also refuse connections [a private
	// one, on Now].
	Blocklist *Blocklist
	// BanThreshold is the misbehaviour score at which a peer is banned
	// [100]; an invalid block scores 50, an invalid transaction 20.
	BanThreshold float64
	// BanDuration is how long a ban lasts [1 h].
	BanDuration time.Duration
	// MaxOrphans and OrphanTTL bound the blocks waiting for their parent
	// [64, 10 min].
	MaxOrphans int
	OrphanTTL  time.Duration
	// MaxFutureBlocks bounds the blocks kept until their timestamp comes
	// within the drift limit, FutureHorizon how far ahead they may be
	// [32, 1 h].
	MaxFutureBlocks int
	FutureHorizon   time.Duration
	// BlocksPerRequest is how many bodies one request asks one peer for
	// [64]; Window how many such batches may be fetched ahead of the one
	// being connected [16]; MaxFetchPeers how many peers fetch bodies in
	// parallel [8].
	BlocksPerRequest int
	Window           int
	MaxFetchPeers    int
	// MaxRoundHeaders bounds the headers held in memory in one sync round
	// [20000]; headers are never stored.
	MaxRoundHeaders int
	// RequestTimeout bounds one request of the chain protocol [30 s].
	RequestTimeout time.Duration
	// MaxPeerMempoolTxs bounds the mempool transactions first relayed by
	// one peer [1000]; past it the peer's transactions are ignored until
	// some of its leave the mempool. MaxNonceAhead is how far past its
	// sender's next nonce a relayed transaction may be before it counts
	// against its relay [64].
	MaxPeerMempoolTxs int
	MaxNonceAhead     int
	// Budget bounds what one peer may ask of the chain protocol;
	// GossipBudget what it may relay to us on the topics.
	Budget       Budget
	GossipBudget GossipBudget
	// OnBan, if set, is called when a peer is banned, with the reason.
	OnBan func(p peer.ID, reason string)
	// OnTx, if set, is called when a transaction from a peer entered the
	// mempool (the node's wallet shows it as pending).
	OnTx func(tx *ledger.Tx, from peer.ID)

	// beforeJoin, in tests, runs in Start just before the topics are
	// joined.
	beforeJoin func(*Service)
}

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.TickInterval <= 0 {
		c.TickInterval = time.Second
	}
	if c.BanThreshold <= 0 {
		c.BanThreshold = 100
	}
	if c.BanDuration <= 0 {
		c.BanDuration = time.Hour
	}
	if c.Blocklist == nil {
		c.Blocklist = NewBlocklist(c.Now, c.BanDuration)
	}
	if c.MaxOrphans <= 0 {
		c.MaxOrphans = 64
	}
	if c.OrphanTTL <= 0 {
		c.OrphanTTL = 10 * time.Minute
	}
	if c.MaxFutureBlocks <= 0 {
		c.MaxFutureBlocks = 32
	}
	if c.FutureHorizon <= 0 {
		c.FutureHorizon = time.Hour
	}
	if c.BlocksPerRequest <= 0 || c.BlocksPerRequest > MaxBlocksPerRequest {
		c.BlocksPerRequest = 64
	}
	if c.Window <= 0 {
		c.Window = 16
	}
	if c.MaxFetchPeers <= 0 {
		c.MaxFetchPeers = 8
	}
	if c.MaxRoundHeaders <= 0 {
		c.MaxRoundHeaders = 20000
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	c.Budget.defaults()
	c.GossipBudget.defaults()
	if c.MaxPeerMempoolTxs <= 0 {
		c.MaxPeerMempoolTxs = 1000
	}
	if c.MaxNonceAhead <= 0 {
		c.MaxNonceAhead = 64
	}
}

// Misbehaviour scores.
const (
	scoreInvalidBlock = 50
	scoreInvalidTx    = 20
	scoreBadResponse  = 50
	scoreUnconnected  = 10
	scoreUnfundedTx   = 2
	scoreWithheld     = 50
	scoreStalled      = 25
)

// Stats describe the service for `myco chain status` and the tests.
type Stats struct {
	// Peers is the number of connected peers; GossipPeers of those on the
	// blocks topic, MeshPeers of those in our blocks mesh (they relay).
	Peers       int
	GossipPeers int
	MeshPeers   int
	// Syncing is set while a sync round runs; SyncHeight is then the
	// height of the header chain being downloaded.
	Syncing    bool
	SyncHeight uint64
	SyncRounds uint64
	// BlocksReceived counts blocks from peers that the chain stored (gossip
	// and sync); TxsReceived transactions from peers that entered the
	// mempool; InvalidMessages rejected gossip and sync data.
	BlocksReceived  uint64
	TxsReceived     uint64
	InvalidMessages uint64
	// BlocksServed counts block bodies this node sent to syncing peers.
	BlocksServed uint64
	// RequestsDelayed counts chain requests answered late because their
	// peer was over its budget, RequestsRefused those refused for it;
	// Bans counts the bans since start.
	RequestsDelayed uint64
	RequestsRefused uint64
	// GossipChecked counts the gossiped blocks and transactions from
	// peers passed on to validation within their relay's budget,
	// GossipShed those dropped unvalidated because their relay was a
	// little over its gossip budget, GossipRefused those refused (and
	// scored) further over it.
	GossipChecked uint64
	GossipShed    uint64
	GossipRefused uint64
	Bans          uint64
	// Orphans and FutureBlocks wait outside the chain; Banned peers are
	// blocked now.
	Orphans      int
	FutureBlocks int
	Banned       int
}

// Service runs the ledger on the network: GossipSub topics for blocks and
// transactions and the headers-first sync protocol. It owns every goroutine
// it starts: Start launches them, Close cancels and waits.
type Service struct {
	h     host.Host
	chain *ledger.Chain
	p     *ledger.Params
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	bl    *Blocklist

	blocksTopicName, txsTopicName string

	mu      sync.Mutex // guards the fields below
	orphans *orphanPool
	future  *futurePool
	scores  map[peer.ID]float64
	state   int // 0 new, 1 started, 2 closed, 3 starting (Start)

	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	ps       *pubsub.PubSub
	blocks   *pubsub.Topic
	txs      *pubsub.Topic
	subs     []*pubsub.Subscription
	mesh     *meshTracer
	notifiee *network.NotifyBundle
	connCh   chan peer.ID
	syncReq  chan peer.ID
	announce chan announcement

	syncMu     sync.Mutex   // one sync round at a time
	recvMu     sync.RWMutex // orders the received counters with the chain; see store
	syncing    atomic.Bool
	syncHeight atomic.Uint64
	syncRounds atomic.Uint64
	blocksRecv atomic.Uint64
	txsRecv    atomic.Uint64
	invalid    atomic.Uint64
	served     atomic.Uint64
	delayed    atomic.Uint64
	refused    atomic.Uint64
	bans       atomic.Uint64
	budget     *budgets
	gossip     *gossipBudgets
	// gossipChecked, gossipShed and gossipRefused count what the gossip
	// budget passed on to validation and dropped; penalties carries the
	// scores it gives to the event loop.
	gossipChecked atomic.Uint64
	gossipShed    atomic.Uint64
	gossipRefused atomic.Uint64
	penalties     chan penalty
	shares        *txShares
	peerScores    atomic.Pointer[map[peer.ID]float64]
}

// penalty is a score given where misbehave cannot run (pubsub's event
// loop), applied by the service's event loop.
type penalty struct {
	p      peer.ID
	points float64
	reason string
}

// penalize queues a score for the event loop; when the queue is full the
// score is dropped (a peer that floods gives more).
func (s *Service) penalize(p peer.ID, points float64, reason string) {
	select {
	case s.penalties <- penalty{p, points, reason}:
	default:
	}
}

type announcement struct {
	topic *pubsub.Topic
	data  []byte
}

// BlocksTopic and TxsTopic return the GossipSub topic names of a network.
func BlocksTopic(n ledger.Network) string { return "/myco/" + n.String() + "/blocks/1" }

// TxsTopic returns the transactions topic of network n.
func TxsTopic(n ledger.Network) string { return "/myco/" + n.String() + "/txs/1" }

// New returns a stopped service for chain on host h.
func New(h host.Host, chain *ledger.Chain, cfg Config) (*Service, error) {
	if h == nil || chain == nil {
		return nil, errors.New("netsync: new service: host and chain are required")
	}
	cfg.defaults()
	p := chain.Params()
	return &Service{
		h:               h,
		chain:           chain,
		p:               p,
		cfg:             cfg,
		log:             cfg.Logger,
		now:             cfg.Now,
		bl:              cfg.Blocklist,
		blocksTopicName: BlocksTopic(p.Name),
		txsTopicName:    TxsTopic(p.Name),
		mesh:            newMeshTracer(BlocksTopic(p.Name), TxsTopic(p.Name)),
		orphans:         newOrphanPool(cfg.MaxOrphans, cfg.OrphanTTL),
		future:          newFuturePool(cfg.MaxFutureBlocks, cfg.FutureHorizon),
		scores:          make(map[peer.ID]float64),
		budget:          newBudgets(cfg.Budget),
		gossip:          newGossipBudgets(cfg.GossipBudget),
		penalties:       make(chan penalty, 64),
		shares:          newTxShares(cfg.MaxPeerMempoolTxs),
		connCh:          make(chan peer.ID, 256),
		syncReq:         make(chan peer.ID, 64),
		announce:        make(chan announcement, 256),
	}, nil
}

// Blocklist returns the service's blocklist.
func (s *Service) Blocklist() *Blocklist { return s.bl }

// Start joins the topics, registers the sync protocol and starts the
// service's goroutines; it then syncs with every connected peer. A
// service starts once.
func (s *Service) Start() error {
	s.mu.Lock()
	switch s.state {
	case 1, 3:
		s.mu.Unlock()
		return errors.New("netsync: service already started")
	case 2:
		s.mu.Unlock()
		return ErrClosed
	}
	s.state = 3
	s.mu.Unlock()
	// Pubsub starts without s.mu held: joining and subscribing wait for
	// pubsub's event loop, which asks misbehaviour() (s.mu) for the score
	// of a peer whose RPC or heartbeat it handles. Under s.mu that was a
	// deadlock, hit when peers already connected spoke first: the daemon
	// hung after "dht started" and never got ready.
	ctx, cancel := context.WithCancel(context.Background())
	err := s.startGossip(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && s.state == 2 {
		err = ErrClosed // Close came first; it leaves the rest to us
		for _, sub := range s.subs {
			sub.Cancel()
		}
	}
	if err != nil {
		cancel() // ends pubsub, which this context started
		if s.state == 3 {
			s.state = 0
		}
		return fmt.Errorf("start netsync: %w", err)
	}
	s.ctx, s.cancel = ctx, cancel
	s.state = 1
	s.h.SetStreamHandler(ChainProtocol, s.handleStream)
	s.notifiee = &network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) {
		select {
		case s.connCh <- c.RemotePeer():
		default: // a burst of connections: the next one or a block will sync
		}
	}}
	s.h.Network().Notify(s.notifiee)

	ticks := s.cfg.Ticks
	if ticks == nil {
		t := time.NewTicker(s.cfg.TickInterval)
		ticks = t.C
		s.wg.Go(func() { <-ctx.Done(); t.Stop() })
	}
	for _, sub := range s.subs {
		s.wg.Go(func() { drain(ctx, sub) })
	}
	s.wg.Go(func() { s.eventLoop(ctx, ticks) })
	s.wg.Go(func() { s.syncLoop(ctx) })
	s.wg.Go(func() { s.announceLoop(ctx) })
	for _, p := range s.h.Network().Peers() {
		s.requestSync(p)
	}
	s.log.Info("netsync started", "blocks", s.blocksTopicName, "txs", s.txsTopicName)
	return nil
}

// Close stops the service: it leaves the topics, removes the protocol
// handler, cancels every goroutine and waits for them.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.state != 1 {
		s.state = 2
		s.mu.Unlock()
		return nil
	}
	s.state = 2
	s.mu.Unlock()
	s.h.RemoveStreamHandler(ChainProtocol)
	s.h.Network().StopNotify(s.notifiee)
	for _, sub := range s.subs {
		sub.Cancel()
	}
	var errs []error
	for _, t := range []*pubsub.Topic{s.blocks, s.txs} {
		if err := t.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	s.cancel()
	s.wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close netsync: %w", err)
	}
	return nil
}

func drain(ctx context.Context, sub *pubsub.Subscription) {
	for {
		if _, err := sub.Next(ctx); err != nil {
			return
		}
	}
}

func (s *Service) running() (context.Context, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case 0, 3:
		return nil, ErrNotStarted
	case 2:
		return nil, ErrClosed
	}
	return s.ctx, nil
}

// BroadcastTx publishes a transaction the local mempool holds (the node
// calls it after Chain.AddTx).
func (s *Service) BroadcastTx(tx *ledger.Tx) error {
	ctx, err := s.running()
	if err != nil {
		return err
	}
	if err := s.txs.Publish(ctx, tx.Encode()); err != nil {
		return fmt.Errorf("broadcast transaction %s: %w", tx.ID(), err)
	}
	return nil
}

// BroadcastBlock publishes a block; the node hooks the miner's OnBlock to
// it. A block the chain does not hold yet is processed first.
func (s *Service) BroadcastBlock(blk *ledger.Block) error {
	ctx, err := s.running()
	if err != nil {
		return err
	}
	if err := s.blocks.Publish(ctx, blk.Encode()); err != nil {
		return fmt.Errorf("broadcast block %s: %w", blk.Hash(), err)
	}
	return nil
}

// Stats returns the service's counters.
func (s *Service) Stats() Stats {
	st := Stats{
		Peers:           len(s.h.Network().Peers()),
		Syncing:         s.syncing.Load(),
		SyncRounds:      s.syncRounds.Load(),
		InvalidMessages: s.invalid.Load(),
		BlocksServed:    s.served.Load(),
		RequestsDelayed: s.delayed.Load(),
		RequestsRefused: s.refused.Load(),
		GossipChecked:   s.gossipChecked.Load(),
		GossipShed:      s.gossipShed.Load(),
		GossipRefused:   s.gossipRefused.Load(),
		Bans:            s.bans.Load(),
		Banned:          s.bl.Len(),
	}
	if st.Syncing {
		st.SyncHeight = s.syncHeight.Load()
	}
	st.BlocksReceived, st.TxsReceived = s.received()
	s.mu.Lock()
	st.Orphans = s.orphans.len()
	st.FutureBlocks = len(s.future.blocks)
	started := s.state == 1
	s.mu.Unlock()
	if started {
		// Not under s.mu: ListPeers waits for pubsub's loop, which may be
		// asking misbehaviour() for a score.
		st.GossipPeers = len(s.blocks.ListPeers())
	}
	st.MeshPeers = s.mesh.size(s.blocksTopicName, s.connected)
	return st
}

// received reads the block and transaction counters once the blocks
// and transactions being stored are counted (see store).
func (s *Service) received() (blocks, txs uint64) {
	s.recvMu.Lock()
	defer s.recvMu.Unlock()
	return s.blocksRecv.Load(), s.txsRecv.Load()
}

// PeerScores returns the GossipSub peer scores as last sampled (about
// once a second).
func (s *Service) PeerScores() map[peer.ID]float64 {
	m := s.peerScores.Load()
	if m == nil {
		return nil
	}
	return *m
}

// WaitGossipPeers waits until min(n, 6) peers are in our mesh on both
// topics and n peers on each, so blocks others publish are relayed (before
// the mesh forms, only our own go out, to every neighbour). A peer joins
// the mesh only after its subscription is known, so mesh changes are the
// events to wait on.
func (s *Service) WaitGossipPeers(ctx context.Context, n int) error {
	if _, err := s.running(); err != nil {
		return err
	}
	err := s.mesh.wait(ctx, func() bool {
		for _, t := range []*pubsub.Topic{s.blocks, s.txs} {
			if len(t.ListPeers()) < n || s.mesh.size(t.String(), s.connected) < min(n, meshDegree) {
				return false
			}
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("wait for %d gossip peers (have %d): %w", n, len(s.blocks.ListPeers()), err)
	}
	return nil
}

func (s *Service) connected(p peer.ID) bool {
	return s.h.Network().Connectedness(p) == network.Connected
}

// Penalize adds points to p's misbehaviour score for something another
// protocol saw (the node routes the DHT's and the swarm's refusals here),
// so every protocol feeds one score and one ban.
func (s *Service) Penalize(p peer.ID, points float64, reason string) {
	s.misbehave(p, points, reason)
}

// misbehave adds points to p's misbehaviour score and bans p once it
// reaches the threshold: the peer is disconnected, refused by the
// connection gater and ignored by pubsub until the ban expires.
func (s *Service) misbehave(p peer.ID, points float64, reason string) {
	if p == s.h.ID() || p == "" {
		return
	}
	s.invalid.Add(1)
	// Messages still queued from a banned peer change nothing and log
	// nothing: the ban is already in place.
	if s.bl.Banned(p) {
		return
	}
	s.mu.Lock()
	s.scores[p] += points
	ban := s.scores[p] >= s.cfg.BanThreshold
	if ban {
		delete(s.scores, p)
		// Banned under s.mu, so two messages crossing the threshold at
		// once make one ban.
		if s.bl.Banned(p) {
			ban = false
		} else {
			s.bl.BanFor(p, s.cfg.BanDuration, reason)
		}
	}
	ps := s.ps
	s.mu.Unlock()
	s.log.Debug("peer misbehaved", "peer", p, "points", points, "reason", reason)
	if !ban {
		return
	}
	s.bans.Add(1)
	s.log.Warn("peer banned", "peer", p, "for", s.cfg.BanDuration, "reason", reason)
	var addrs []ma.Multiaddr
	for _, c := range s.h.Network().ConnsToPeer(p) {
		addrs = append(addrs, c.RemoteMultiaddr())
	}
	s.bl.MarkAddrs(p, addrs)
	if ps != nil {
		ps.BlacklistPeer(p)
	}
	if err := s.h.Network().ClosePeer(p); err != nil {
		s.log.Debug("close banned peer", "peer", p, "err", err)
	}
	if s.cfg.OnBan != nil {
		s.cfg.OnBan(p, reason)
	}
}

// Misbehaviour returns every peer's current misbehaviour score (peers
// without one are absent); a peer is banned when its score reaches
// Config.BanThreshold.
func (s *Service) Misbehaviour() map[peer.ID]float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[peer.ID]float64, len(s.scores))
	for p, v := range s.scores {
		out[p] = v
	}
	return out
}

// BanThreshold returns the score at which a peer is banned.
func (s *Service) BanThreshold() float64 { return s.cfg.BanThreshold }

// misbehaviour returns p's current score (pubsub's application-specific
// score is its negative).
func (s *Service) misbehaviour(p peer.ID) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scores[p]
}

func (s *Service) eventLoop(ctx context.Context, ticks <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-s.connCh:
			if s.bl.Banned(p) {
				if err := s.h.Network().ClosePeer(p); err != nil {
					s.log.Debug("close banned peer", "peer", p, "err", err)
				}
				continue
			}
			s.requestSync(p)
		case pn := <-s.penalties:
			s.misbehave(pn.p, pn.points, pn.reason)
		case <-ticks:
			s.tick()
		}
	}
}

// tick does the clock-driven housekeeping.
func (s *Service) tick() {
	now := s.now()
	s.mu.Lock()
	s.orphans.expire(now)
	due := s.future.due(now.Add(s.p.MaxFutureDrift).UnixMilli())
	for p, v := range s.scores {
		if v *= 0.99; v < 1 {
			delete(s.scores, p)
		} else {
			s.scores[p] = v
		}
	}
	s.mu.Unlock()
	s.budget.sweep(now)
	s.gossip.sweep(now)
	s.shares.prune(s.chain.HasTx, s.connected)
	for _, b := range due {
		if v := s.acceptBlock(b.blk, b.from); v == pubsub.ValidationAccept {
			s.queueAnnounce(s.blocks, b.blk.Encode())
		}
	}
}

func (s *Service) queueAnnounce(t *pubsub.Topic, data []byte) {
	select {
	case s.announce <- announcement{t, data}:
	default:
		s.log.Debug("announce queue full; dropped one")
	}
}

func (s *Service) announceLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-s.announce:
			if err := a.topic.Publish(ctx, a.data); err != nil && ctx.Err() == nil {
				s.log.Debug("announce", "topic", a.topic.String(), "err", err)
			}
		}
	}
}
