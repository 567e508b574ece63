package ledger

import (
	"sync"
)

// sigCache remembers the ids of transactions whose signatures verified. An
// id commits to the signature, key and signed fields, so a hit means the
// very same bytes verified before: a mempool transaction is not verified a
// second time when its block arrives. It is bounded; when full, an
// arbitrary entry makes room.
type sigCache struct {
	mu  sync.RWMutex
	m   map[Hash]struct{}
	max int
}

func newSigCache(max int) *sigCache {
	return &sigCache{m: make(map[Hash]struct{}), max: max}
}

func (c *sigCache) has(id Hash) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.m[id]
	return ok
}

func (c *sigCache) add(id Hash) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[id] = struct{}{}
}

func (c *sigCache) remove(id Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// verifySigs checks the signatures of every non-coinbase transaction,
// through par when it is set (see Config.Parallel), else one after
// another. Cached ids are skipped. With several failures, the one of the
// lowest index is reported, so the outcome does not depend on scheduling.
func verifySigs(txs []*Tx, ids []Hash, par func(n int, fn func(i int)), cache *sigCache) error {
	var todo []int
	for i, tx := range txs {
		if tx.Kind == TxCoinbase {
			continue
		}
		if cache != nil && cache.has(ids[i]) {
			continue
		}
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return nil
	}
	errs := make([]error, len(todo))
	check := func(j int) { errs[j] = txs[todo[j]].VerifySignature() }
	if par == nil {
		for j := range todo {
			check(j)
		}
	} else {
		par(len(todo), check)
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
