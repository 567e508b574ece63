package ledger

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
)

// sigKey names one BIP-340 verification: the SHA-256 of the signed
// message, the x-only key and the signature. The three have fixed lengths,
// so the key commits to each of them; the messages are tagged hashes
// ("myco/tx/v1", "myco/voucher/v1"), so a transaction's and a voucher's
// verifications never share a key. Two different verifications share a
// key only through a SHA-256 collision, the assumption transaction ids
// and merkle roots already rest on; a hash keeps an entry at 32 bytes
// instead of the 128 of the three.
type sigKey [32]byte

func newSigKey(msg *[32]byte, pub *[PubKeySize]byte, sig *[SigSize]byte) sigKey {
	h := sha256.New()
	h.Write(msg[:])
	h.Write(pub[:])
	h.Write(sig[:])
	var k sigKey
	h.Sum(k[:0])
	return k
}

// sigUse says how a verification uses the cache.
type sigUse uint8

const (
	// sigKeep is the mempool's and the block template's use: a hit
	// passes, a miss is verified and a success remembered, so the same
	// signature in a later check or in the block costs nothing.
	sigKeep sigUse = iota
	// sigSpend is a connecting block's use: a hit passes and is forgotten
	// (the block has spent the transaction or voucher, so the entry
	// would only take room), a miss is verified and not remembered.
	sigSpend
)

// sigCache remembers BIP-340 verifications that succeeded, as btcd's and
// Bitcoin Core's signature caches do: a transaction's signature or a
// channel close's voucher is verified once when it enters the mempool and
// not again when the mempool is re-checked after a block, when a template
// takes it or when its block connects. An entry is keyed by everything
// that was verified (see sigKey), so a hit means the very same message,
// key and signature verified before, and verification is deterministic;
// only successes are stored. It holds at most max entries; when full, an
// arbitrary one (Go's map order) makes room. It is safe for concurrent
// use: a block's signatures are checked through Config.Parallel. A nil
// *sigCache verifies every time.
type sigCache struct {
	mu  sync.RWMutex
	m   map[sigKey]struct{}
	max int

	hits, verified atomic.Uint64
}

func newSigCache(max int) *sigCache {
	return &sigCache{m: make(map[sigKey]struct{}), max: max}
}

// check returns nil when k's verification succeeded before, else the
// outcome of verify, which performs it; use says what the cache keeps.
func (c *sigCache) check(k sigKey, use sigUse, verify func() error) error {
	if c == nil {
		return verify()
	}
	if c.lookup(k, use) {
		c.hits.Add(1)
		return nil
	}
	c.verified.Add(1)
	if err := verify(); err != nil {
		return err
	}
	if use == sigKeep {
		c.add(k)
	}
	return nil
}

// lookup reports whether k is cached, forgetting it when use is sigSpend.
func (c *sigCache) lookup(k sigKey, use sigUse) bool {
	if use == sigSpend {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.m[k]
		delete(c.m, k)
		return ok
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.m[k]
	return ok
}

func (c *sigCache) add(k sigKey) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok {
		return
	}
	if len(c.m) >= c.max {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = struct{}{}
}

// SigCacheStats counts the signature cache's work since the chain opened.
type SigCacheStats struct {
	// Entries is how many verified signatures the cache holds now.
	Entries int
	// Hits counts the checks the cache answered; Verified the BIP-340
	// verifications it ran (transaction signatures and channel vouchers,
	// whatever their outcome).
	Hits, Verified uint64
}

// SigCacheStats returns the signature cache's counters.
func (c *Chain) SigCacheStats() SigCacheStats {
	c.sigs.mu.RLock()
	defer c.sigs.mu.RUnlock()
	return SigCacheStats{Entries: len(c.sigs.m), Hits: c.sigs.hits.Load(), Verified: c.sigs.verified.Load()}
}

// verifySigs checks the signatures of every non-coinbase transaction of a
// connecting block through cache (sigSpend), through par when it is set
// (see Config.Parallel), else one after another. With several failures,
// the one of the lowest index is reported, so the outcome does not depend
// on scheduling.
func verifySigs(txs []*Tx, par func(n int, fn func(i int)), cache *sigCache) error {
	var todo []int
	for i, tx := range txs {
		if tx.Kind != TxCoinbase {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	errs := make([]error, len(todo))
	check := func(j int) { errs[j] = txs[todo[j]].verifySignature(cache, sigSpend) }
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
