package netsync

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/myco-p2p/myco/ledger"
)

// txShares remembers which mempool transactions each peer relayed first,
// so one peer's share of the mempool stays below a cap. Entries whose
// transaction left the mempool (mined, evicted, replaced) are dropped when
// the peer reaches its cap and on every tick; peers no longer connected
// are forgotten on the tick.
type txShares struct {
	max   int
	mu    sync.Mutex
	peers map[peer.ID]map[ledger.Hash]struct{}
}

func newTxShares(max int) *txShares {
	return &txShares{max: max, peers: make(map[peer.ID]map[ledger.Hash]struct{})}
}

// room says whether p may have one more transaction in the mempool.
func (t *txShares) room(p peer.ID, inPool func(ledger.Hash) bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	ids := t.peers[p]
	if len(ids) < t.max {
		return true
	}
	for id := range ids {
		if !inPool(id) {
			delete(ids, id)
		}
	}
	return len(ids) < t.max
}

func (t *txShares) add(p peer.ID, id ledger.Hash) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ids := t.peers[p]
	if ids == nil {
		ids = make(map[ledger.Hash]struct{})
		t.peers[p] = ids
	}
	ids[id] = struct{}{}
}

func (t *txShares) prune(inPool func(ledger.Hash) bool, connected func(peer.ID) bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for p, ids := range t.peers {
		if !connected(p) {
			delete(t.peers, p)
			continue
		}
		for id := range ids {
			if !inPool(id) {
				delete(ids, id)
			}
		}
		if len(ids) == 0 {
			delete(t.peers, p)
		}
	}
}

// count is how many mempool transactions p relayed first (as last pruned).
func (t *txShares) count(p peer.ID) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.peers[p])
}
