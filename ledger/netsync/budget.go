package netsync

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/myco-p2p/myco/internal/tokenbucket"
)

// Budget is what one peer may ask of the chain protocol. Each limit is a
// token bucket on the service's clock: Rate per second refilled, up to
// Burst banked. Zero fields take the defaults in brackets, sized so that
// an honest peer syncing a long chain from genesis, one request at a time,
// never runs dry for longer than MaxDelay.
type Budget struct {
	// Requests a peer may send [100/s, burst 500].
	RequestsPerSecond float64
	RequestBurst      float64
	// Headers we send a peer [1000/s (60,000 a minute), burst 20,000: one
	// sync round of MaxRoundHeaders].
	HeadersPerSecond float64
	HeaderBurst      float64
	// Response bytes we send a peer [8 MiB/s, burst 64 MiB].
	BytesPerSecond float64
	ByteBurst      float64
	// MaxDelay is how long a request over budget may wait for its tokens
	// before it is refused [5 s]. A refused request is reset and scores
	// OverBudgetScore misbehaviour points [10], so a peer that keeps
	// flooding is banned after BanThreshold/OverBudgetScore refusals.
	MaxDelay        time.Duration
	OverBudgetScore float64
}

// DefaultOverBudgetScore is what a request refused for being over budget
// adds to its peer's misbehaviour score unless Budget.OverBudgetScore
// says otherwise; the daemon gives the same to the refusals of the DHT and
// the swarm, which report them through Service.Penalize.
const DefaultOverBudgetScore = 10

func (b *Budget) defaults() {
	tokenbucket.Default(&b.RequestsPerSecond, 100)
	tokenbucket.Default(&b.RequestBurst, 500)
	tokenbucket.Default(&b.HeadersPerSecond, 1000)
	tokenbucket.Default(&b.HeaderBurst, 20000)
	tokenbucket.Default(&b.BytesPerSecond, 8<<20)
	tokenbucket.Default(&b.ByteBurst, 64<<20)
	tokenbucket.Default(&b.OverBudgetScore, DefaultOverBudgetScore)
	tokenbucket.Default(&b.MaxDelay, 5*time.Second)
}

// peerBudget is one peer's buckets.
type peerBudget struct {
	requests, headers, bytes tokenbucket.Bucket
	last                     time.Time
}

// budgets holds every peer's buckets. A peer's entry is forgotten once its
// buckets would be full again (see sweep), so the map holds only peers
// that asked recently.
type budgets struct {
	cfg   Budget
	mu    sync.Mutex
	peers map[peer.ID]*peerBudget
}

func newBudgets(cfg Budget) *budgets {
	cfg.defaults()
	return &budgets{cfg: cfg, peers: make(map[peer.ID]*peerBudget)}
}

type verdict = tokenbucket.Verdict

const (
	serveNow   = tokenbucket.Serve
	serveLater = tokenbucket.Delay
	refuse     = tokenbucket.Refuse
)

func (b *budgets) get(p peer.ID, now time.Time) *peerBudget {
	pb := b.peers[p]
	if pb == nil {
		pb = &peerBudget{}
		b.peers[p] = pb
	}
	pb.last = now
	return pb
}

// request charges one request to p before any work is done.
func (b *budgets) request(p peer.ID, now time.Time) (verdict, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	pb := b.get(p, now)
	wait := pb.requests.Take(now, 1, b.cfg.RequestsPerSecond, b.cfg.RequestBurst)
	return b.judge(wait, func() { pb.requests.Give(1) })
}

// response charges a response of headers headers and size bytes to p.
func (b *budgets) response(p peer.ID, now time.Time, headers, size int) (verdict, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	pb := b.get(p, now)
	w1 := pb.headers.Take(now, float64(headers), b.cfg.HeadersPerSecond, b.cfg.HeaderBurst)
	w2 := pb.bytes.Take(now, float64(size), b.cfg.BytesPerSecond, b.cfg.ByteBurst)
	return b.judge(max(w1, w2), func() {
		pb.headers.Give(float64(headers))
		pb.bytes.Give(float64(size))
	})
}

func (b *budgets) judge(wait time.Duration, refund func()) (verdict, time.Duration) {
	v := tokenbucket.Judge(wait, b.cfg.MaxDelay)
	if v == refuse {
		refund()
	}
	return v, wait
}

// sweep forgets peers idle long enough for every bucket to be full again.
func (b *budgets) sweep(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	idle := time.Duration(max(b.cfg.RequestBurst/b.cfg.RequestsPerSecond,
		b.cfg.HeaderBurst/b.cfg.HeadersPerSecond,
		b.cfg.ByteBurst/b.cfg.BytesPerSecond) * float64(time.Second))
	for p, pb := range b.peers {
		if now.Sub(pb.last) > idle+b.cfg.MaxDelay {
			delete(b.peers, p)
		}
	}
}

// GossipBudget is how many gossiped messages from one peer (the peer that
// relayed them to us, whoever published them) we validate, per topic.
// Each is a token bucket on the service's clock; zero fields take the
// defaults in brackets. A gossiped message cannot be held back without
// holding one of the validation slots pubsub shares among all peers, so a
// peer over its budget is slowed by shedding: what it relays past its
// tokens is dropped before any validation (not forwarded, not scored),
// as long as its debt is within MaxDelay of its rate; further over, each
// message it relays is refused and the RPC that carried it scores
// OverBudgetScore, so a flood is banned after about ten such RPCs.
type GossipBudget struct {
	// Blocks a peer may relay [100/s, burst 1000]: main makes one a
	// minute, a dev chain one a second but about a hundred in its first
	// second (its difficulty starts at genesis), and a peer relays such a
	// run at once; a block whose proof of work fails costs one header hash
	// to refuse, so the bucket only has to bound floods.
	BlocksPerSecond float64
	BlockBurst      float64
	// Transactions a peer may relay [1000/s, burst 10,000]: ten times
	// what main's blocks can confirm (a megabyte a minute), and about two
	// full dev blocks at once.
	TxsPerSecond float64
	TxBurst      float64
	// MaxDelay is how far in debt (in seconds of its rate) a peer's
	// messages are shed rather than refused [5 s].
	MaxDelay time.Duration
}

func (g *GossipBudget) defaults() {
	tokenbucket.Default(&g.BlocksPerSecond, 100)
	tokenbucket.Default(&g.BlockBurst, 1000)
	tokenbucket.Default(&g.TxsPerSecond, 1000)
	tokenbucket.Default(&g.TxBurst, 10000)
	tokenbucket.Default(&g.MaxDelay, 5*time.Second)
}

// gossipBudgets holds every peer's gossip buckets.
type gossipBudgets struct {
	cfg   GossipBudget
	mu    sync.Mutex
	peers map[peer.ID]*gossipPeer
}

type gossipPeer struct {
	blocks, txs tokenbucket.Bucket
	last        time.Time
}

func newGossipBudgets(cfg GossipBudget) *gossipBudgets {
	cfg.defaults()
	return &gossipBudgets{cfg: cfg, peers: make(map[peer.ID]*gossipPeer)}
}

// take charges one message of a topic (block selects the blocks bucket)
// relayed by p at now.
func (g *gossipBudgets) take(p peer.ID, now time.Time, block bool) verdict {
	g.mu.Lock()
	defer g.mu.Unlock()
	gp := g.peers[p]
	if gp == nil {
		gp = &gossipPeer{}
		g.peers[p] = gp
	}
	gp.last = now
	bk, rate, burst := &gp.txs, g.cfg.TxsPerSecond, g.cfg.TxBurst
	if block {
		bk, rate, burst = &gp.blocks, g.cfg.BlocksPerSecond, g.cfg.BlockBurst
	}
	v := tokenbucket.Judge(bk.Take(now, 1, rate, burst), g.cfg.MaxDelay)
	if v == refuse {
		bk.Give(1)
	}
	return v
}

// sweep forgets peers idle long enough for their buckets to be full.
func (g *gossipBudgets) sweep(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	idle := time.Duration(max(g.cfg.BlockBurst/g.cfg.BlocksPerSecond, g.cfg.TxBurst/g.cfg.TxsPerSecond)*float64(time.Second)) + g.cfg.MaxDelay
	for p, gp := range g.peers {
		if now.Sub(gp.last) > idle {
			delete(g.peers, p)
		}
	}
}
