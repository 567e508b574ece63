package dht

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/myco-p2p/myco/internal/tokenbucket"
)

// writeBudget bounds the DHT writes (ADD_PROVIDER, PUT_VALUE) each peer
// may make: a token bucket per peer on the configured clock. It runs as
// the library's request hook, before the message is handled, on the
// stream's goroutine: a write a little over budget waits there (so the
// sender's stream slows down), one further over it is refused: the message
// is emptied so the library stores nothing, the stream is reset and
// onRefused scores the peer.
type writeBudget struct {
	rate, burst float64
	maxDelay    time.Duration
	now         func() time.Time
	onRefused   func(peer.ID)

	mu      sync.Mutex
	peers   map[peer.ID]*tokenbucket.Bucket
	swept   time.Time
	delayed atomic.Uint64
	refused atomic.Uint64
}

func newWriteBudget(cfg Config) *writeBudget {
	return &writeBudget{
		rate: cfg.WritesPerSecond, burst: cfg.WriteBurst, maxDelay: cfg.WriteMaxDelay,
		now: cfg.Now, onRefused: cfg.OnWriteRefused, peers: make(map[peer.ID]*tokenbucket.Bucket),
	}
}

func isWrite(t pb.Message_MessageType) bool {
	return t == pb.Message_ADD_PROVIDER || t == pb.Message_PUT_VALUE
}

// take charges one write to p and returns the verdict and the wait.
func (w *writeBudget) take(p peer.ID) (tokenbucket.Verdict, time.Duration) {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	// Peers whose buckets are full again are forgotten, once a burst's time.
	if every := time.Duration(w.burst / w.rate * float64(time.Second)); now.Sub(w.swept) > every {
		for q, b := range w.peers {
			if !b.Full(w.rate, w.burst).After(now) {
				delete(w.peers, q)
			}
		}
		w.swept = now
	}
	b := w.peers[p]
	if b == nil {
		b = &tokenbucket.Bucket{}
		w.peers[p] = b
	}
	wait := b.Take(now, 1, w.rate, w.burst)
	v := tokenbucket.Judge(wait, w.maxDelay)
	if v == tokenbucket.Refuse {
		b.Give(1)
	}
	return v, wait
}

// hook is the library's OnRequestHook.
func (w *writeBudget) hook(ctx context.Context, s network.Stream, req *pb.Message) {
	if !isWrite(req.GetType()) {
		return
	}
	p := s.Conn().RemotePeer()
	switch v, wait := w.take(p); v {
	case tokenbucket.Delay:
		w.delayed.Add(1)
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	case tokenbucket.Refuse:
		w.refused.Add(1)
		req.ProviderPeers = nil
		req.Record = nil
		s.Reset()
		if w.onRefused != nil {
			w.onRefused(p)
		}
	}
}
