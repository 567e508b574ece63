package swarm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/myco-p2p/myco/internal/tokenbucket"
)

// Budget is what one peer may send us in control messages (every message
// but a block: handshake, bitfield, have, interested, not-interested,
// choke, unchoke, request, cancel, reject, peers), over all its sessions
// together. Blocks are paid for by the download limiter and checked
// against their CIDs, not counted here. Each limit is a token bucket on
// the service's clock; zero fields take the defaults in brackets, about
// ten times what an honest peer sends while it fetches at full speed
// over loopback (see Config.Budget in the package doc).
type Budget struct {
	// Messages a peer may send [5000/s, burst 20,000].
	MessagesPerSecond float64
	MessageBurst      float64
	// Their bytes (body length) [1 MiB/s, burst 4 MiB: a few bitfields
	// of the largest root at once].
	BytesPerSecond float64
	ByteBurst      float64
	// MaxDelay is how long a peer may stay over its budget [5 s]: once
	// its buckets are in debt, each message waits for its tokens before
	// it is handled (the stream is not read meanwhile, so the sender's
	// writes stall), and the peer counts as over its budget until its
	// buckets are back to half full. A message that finds its peer over
	// budget for longer than MaxDelay and its buckets in debt is refused:
	// the session stream is reset and the peer reported to
	// Config.OnOverBudget (the node scores it 10; ten refusals ban it).
	MaxDelay time.Duration
}

func (b *Budget) defaults() {
	tokenbucket.Default(&b.MessagesPerSecond, 5000)
	tokenbucket.Default(&b.MessageBurst, 20000)
	tokenbucket.Default(&b.BytesPerSecond, 1<<20)
	tokenbucket.Default(&b.ByteBurst, 4<<20)
	tokenbucket.Default(&b.MaxDelay, 5*time.Second)
}

// ErrOverBudget: a peer stayed over its control-message budget for longer
// than Budget.MaxDelay; its session stream was reset.
var ErrOverBudget = errors.New("peer is over its swarm message budget")

// budgets holds every peer's buckets. An entry is forgotten once its
// buckets would be full again (sweep).
type budgets struct {
	cfg   Budget
	mu    sync.Mutex
	peers map[peer.ID]*peerBudget
	// messages counts the control messages charged, delayed those that
	// waited for tokens, refused those that ended a stream.
	messages, delayed, refused atomic.Uint64
}

type peerBudget struct {
	msgs, bytes tokenbucket.Bucket
	// overSince is when the peer's buckets went into debt, zero once
	// they are back to half full (see recovered).
	overSince, last time.Time
}

func newBudgets(cfg Budget) *budgets {
	cfg.defaults()
	return &budgets{cfg: cfg, peers: make(map[peer.ID]*peerBudget)}
}

// charge takes one message of size bytes from p's buckets at now and
// returns how long to wait before handling it, or refuse when p has been
// in debt for longer than MaxDelay (its tokens are given back: a refused
// message costs it points, not budget).
func (b *budgets) charge(p peer.ID, now time.Time, size int) (wait time.Duration, refuse bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.messages.Add(1)
	pb := b.peers[p]
	if pb == nil {
		pb = &peerBudget{}
		b.peers[p] = pb
	}
	pb.last = now
	w1 := pb.msgs.Take(now, 1, b.cfg.MessagesPerSecond, b.cfg.MessageBurst)
	w2 := pb.bytes.Take(now, float64(size), b.cfg.BytesPerSecond, b.cfg.ByteBurst)
	wait = max(w1, w2)
	if wait == 0 {
		if !pb.overSince.IsZero() && b.recovered(pb, now) {
			pb.overSince = time.Time{}
		}
		return 0, false
	}
	if pb.overSince.IsZero() {
		pb.overSince = now
	}
	if now.Sub(pb.overSince)+wait > b.cfg.MaxDelay {
		pb.msgs.Give(1)
		pb.bytes.Give(float64(size))
		b.refused.Add(1)
		return wait, true
	}
	b.delayed.Add(1)
	return wait, false
}

// recovered reports whether both of pb's buckets are back to half their
// burst: a peer that went into debt stays "over" until then, so one that
// floods, is refused, reconnects and floods again is refused again at
// once rather than after a new MaxDelay.
func (b *budgets) recovered(pb *peerBudget, now time.Time) bool {
	half := func(bk *tokenbucket.Bucket, rate, burst float64) bool {
		return !bk.Full(rate, burst).After(now.Add(time.Duration(burst / 2 / rate * float64(time.Second))))
	}
	return half(&pb.msgs, b.cfg.MessagesPerSecond, b.cfg.MessageBurst) && half(&pb.bytes, b.cfg.BytesPerSecond, b.cfg.ByteBurst)
}

// sweep forgets peers idle long enough for their buckets to be full.
func (b *budgets) sweep(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	idle := time.Duration(max(b.cfg.MessageBurst/b.cfg.MessagesPerSecond,
		b.cfg.ByteBurst/b.cfg.BytesPerSecond)*float64(time.Second)) + b.cfg.MaxDelay
	for p, pb := range b.peers {
		if now.Sub(pb.last) > idle {
			delete(b.peers, p)
		}
	}
}

// BudgetStats counts what the control-message budget did since the
// service started.
type BudgetStats struct {
	// Messages charged; Delayed those that waited for their peer's
	// tokens; Refused those that ended their stream.
	Messages, Delayed, Refused uint64
}

// BudgetStats returns the control-message budget's counters.
func (s *Service) BudgetStats() BudgetStats {
	return BudgetStats{Messages: s.budget.messages.Load(), Delayed: s.budget.delayed.Load(), Refused: s.budget.refused.Load()}
}

// admitMessage charges one control message of size bytes from p to its
// budget: it returns at once within the budget, waits on the service's
// clock a little over it, and past MaxDelay in debt reports p to
// OnOverBudget and returns ErrOverBudget (the caller ends the stream).
func (s *Service) admitMessage(ctx context.Context, p peer.ID, size int) error {
	wait, refuse := s.budget.charge(p, s.now(), size)
	if refuse {
		if s.cfg.OnOverBudget != nil {
			s.cfg.OnOverBudget(p)
		}
		return fmt.Errorf("%w (in debt for more than %s)", ErrOverBudget, s.budget.cfg.MaxDelay)
	}
	if wait == 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.clock.After(wait):
		return nil
	}
}
