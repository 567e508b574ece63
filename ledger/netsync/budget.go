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

func (b *Budget) defaults() {
	def := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&b.RequestsPerSecond, 100)
	def(&b.RequestBurst, 500)
	def(&b.HeadersPerSecond, 1000)
	def(&b.HeaderBurst, 20000)
	def(&b.BytesPerSecond, 8<<20)
	def(&b.ByteBurst, 64<<20)
	def(&b.OverBudgetScore, 10)
	if b.MaxDelay <= 0 {
		b.MaxDelay = 5 * time.Second
	}
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
