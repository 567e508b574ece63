package netsync

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/myco-p2p/myco/ledger"
)

// heldBlock is a block waiting outside the chain: for its parent (an
// orphan) or for its timestamp to come within the drift limit.
type heldBlock struct {
	blk  *ledger.Block
	hash ledger.Hash
	from peer.ID
	at   time.Time // when it arrived
}

// orphanPool keeps blocks whose parent is unknown, at most max of them and
// none older than ttl; the oldest goes first when it is full. It is plain
// state, not safe for concurrent use; the service guards it.
type orphanPool struct {
	max      int
	ttl      time.Duration
	byHash   map[ledger.Hash]*heldBlock
	byParent map[ledger.Hash][]ledger.Hash
}

func newOrphanPool(max int, ttl time.Duration) *orphanPool {
	return &orphanPool{max: max, ttl: ttl, byHash: make(map[ledger.Hash]*heldBlock), byParent: make(map[ledger.Hash][]ledger.Hash)}
}

func (o *orphanPool) len() int { return len(o.byHash) }

func (o *orphanPool) has(h ledger.Hash) bool { _, ok := o.byHash[h]; return ok }

// add keeps b, evicting expired orphans and then the oldest while full.
func (o *orphanPool) add(b *heldBlock) {
	if o.has(b.hash) {
		return
	}
	o.expire(b.at)
	for len(o.byHash) >= o.max {
		var oldest *heldBlock
		for _, e := range o.byHash {
			if oldest == nil || e.at.Before(oldest.at) {
				oldest = e
			}
		}
		o.remove(oldest.hash)
	}
	o.byHash[b.hash] = b
	prev := b.blk.Header.PrevHash
	o.byParent[prev] = append(o.byParent[prev], b.hash)
}

func (o *orphanPool) remove(h ledger.Hash) {
	e, ok := o.byHash[h]
	if !ok {
		return
	}
	delete(o.byHash, h)
	prev := e.blk.Header.PrevHash
	kids := o.byParent[prev]
	for i, k := range kids {
		if k == h {
			kids = append(kids[:i], kids[i+1:]...)
			break
		}
	}
	if len(kids) == 0 {
		delete(o.byParent, prev)
	} else {
		o.byParent[prev] = kids
	}
}

// takeChildren removes and returns the orphans waiting for parent.
func (o *orphanPool) takeChildren(parent ledger.Hash) []*heldBlock {
	var out []*heldBlock
	for _, h := range append([]ledger.Hash(nil), o.byParent[parent]...) {
		out = append(out, o.byHash[h])
		o.remove(h)
	}
	return out
}

// expire drops orphans that arrived more than ttl before now.
func (o *orphanPool) expire(now time.Time) {
	for h, e := range o.byHash {
		if now.Sub(e.at) > o.ttl {
			o.remove(h)
		}
	}
}

// futurePool keeps blocks whose timestamp is too far ahead of the clock, at
// most max of them and none more than horizon ahead, until their time
// comes. When full, the block furthest in the future goes.
type futurePool struct {
	max     int
	horizon time.Duration
	blocks  map[ledger.Hash]*heldBlock
}

func newFuturePool(max int, horizon time.Duration) *futurePool {
	return &futurePool{max: max, horizon: horizon, blocks: make(map[ledger.Hash]*heldBlock)}
}

// add keeps b unless it is beyond the horizon; it reports whether it did.
func (f *futurePool) add(b *heldBlock, now time.Time) bool {
	if b.blk.Header.Time > now.Add(f.horizon).UnixMilli() {
		return false
	}
	if _, ok := f.blocks[b.hash]; ok {
		return true
	}
	if len(f.blocks) >= f.max {
		var latest *heldBlock
		for _, e := range f.blocks {
			if latest == nil || e.blk.Header.Time > latest.blk.Header.Time {
				latest = e
			}
		}
		if latest.blk.Header.Time <= b.blk.Header.Time {
			return false
		}
		delete(f.blocks, latest.hash)
	}
	f.blocks[b.hash] = b
	return true
}

// due removes and returns, oldest timestamp first, the blocks whose
// timestamp is at most limit (Unix ms).
func (f *futurePool) due(limit int64) []*heldBlock {
	var out []*heldBlock
	for h, e := range f.blocks {
		if e.blk.Header.Time <= limit {
			out = append(out, e)
			delete(f.blocks, h)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].blk.Header.Time < out[j-1].blk.Header.Time; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
