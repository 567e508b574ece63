package ledger

import (
	"errors"
	"time"
)

// This file holds the orphan pool: blocks whose parent is unknown, kept in
// memory until it arrives.

type orphan struct {
	blk *Block
	seq uint64
}

// addOrphan keeps a block whose parent is unknown, evicting the oldest
// orphan when the pool is full.
func (c *Chain) addOrphan(blk *Block, hash Hash) {
	if len(c.orphans) >= c.maxOrph {
		var oldest Hash
		var oldestSeq uint64 = ^uint64(0)
		for h, o := range c.orphans {
			if o.seq < oldestSeq {
				oldest, oldestSeq = h, o.seq
			}
		}
		c.removeOrphan(oldest)
	}
	c.orphans[hash] = &orphan{blk: blk, seq: c.orphanSeq}
	c.orphanSeq++
	prev := blk.Header.PrevHash
	c.byParent[prev] = append(c.byParent[prev], hash)
}

func (c *Chain) removeOrphan(h Hash) {
	o, ok := c.orphans[h]
	if !ok {
		return
	}
	delete(c.orphans, h)
	prev := o.blk.Header.PrevHash
	kids := c.byParent[prev]
	for i, k := range kids {
		if k == h {
			kids = append(kids[:i], kids[i+1:]...)
			break
		}
	}
	if len(kids) == 0 {
		delete(c.byParent, prev)
	} else {
		c.byParent[prev] = kids
	}
}

// processOrphans adopts the orphans that were waiting for parent, and
// theirs in turn. An orphan that turns out invalid is dropped.
func (c *Chain) processOrphans(parent Hash, now time.Time, log *connectLog) error {
	queue := []Hash{parent}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, h := range append([]Hash(nil), c.byParent[p]...) {
			o := c.orphans[h]
			c.removeOrphan(h)
			status, err := c.processBlock(o.blk, h, now, log)
			var re *RuleError
			if err != nil && !errors.As(err, &re) {
				return err
			}
			if err != nil {
				c.log.Debug("orphan rejected", "hash", h, "err", err)
				continue
			}
			if status == StatusMainChain || status == StatusSideChain {
				queue = append(queue, h)
			}
		}
	}
	return nil
}

// OrphanCount returns how many blocks wait for their parent.
func (c *Chain) OrphanCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.orphans)
}
