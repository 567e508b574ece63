package ledger

import (
	"fmt"
	"math/big"
	"time"
)

// This file holds what headers-first sync asks of the chain: block
// locators, the main-chain headers after a locator, and validation of a
// peer's header chain against the real rules (proof of work, height, ASERT
// bits, median time, future drift) without storing anything. It only reads
// the chain under its lock and reuses the rule checks of validate.go and
// pow.go, so the rules live in one place.

// Locator returns a block locator for the main chain: the hashes of the
// tip and the 10 blocks below it one by one, then ever doubling steps back,
// ending with genesis. A peer finds the newest of them on its own main chain
// and sends the headers after it.
func (c *Chain) Locator() []Hash {
	c.mu.Lock()
	defer c.mu.Unlock()
	var loc []Hash
	step := 1
	for h := len(c.main) - 1; h > 0; h -= step {
		loc = append(loc, c.main[h].hash)
		if len(loc) >= 10 {
			step *= 2
		}
	}
	return append(loc, c.main[0].hash)
}

// HeadersAfter returns up to max headers of the main chain following the
// first locator hash that is on the main chain (genesis when none is).
func (c *Chain) HeadersAfter(locator []Hash, max int) []Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	start := uint64(0)
	for _, h := range locator {
		if n, ok := c.index[h]; ok && c.onMain(n) {
			start = n.header.Height
			break
		}
	}
	var out []Header
	for h := start + 1; h < uint64(len(c.main)) && len(out) < max; h++ {
		out = append(out, c.main[h].header)
	}
	return out
}

// ValidateHeaders checks a chain of headers whose first builds on a stored
// block: each must carry valid proof of work and meet every header rule
// relative to its predecessor (height, ASERT bits, median time and, when now
// is not zero, the future-drift limit). Nothing is stored. It returns the
// cumulative work of the chain up to the last header. An unknown first
// parent is an error wrapping ErrUnknownBlock; a broken rule a *RuleError.
func (c *Chain) ValidateHeaders(hdrs []Header, now time.Time) (*big.Int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(hdrs) == 0 {
		return new(big.Int).Set(c.tipNode().work), nil
	}
	parent, ok := c.index[hdrs[0].PrevHash]
	if !ok {
		return nil, fmt.Errorf("first header's parent %s: %w", hdrs[0].PrevHash, ErrUnknownBlock)
	}
	for i := range hdrs {
		h := &hdrs[i]
		hash := h.Hash()
		// A header links to the one before it.
		if h.PrevHash != parent.hash {
			return nil, ruleErr(ErrMalformed, "header %d (%s) does not link to the one before it", i, hash)
		}
		// A block building on a block known to be invalid is invalid.
		if parent.invalid() {
			return nil, ruleErr(ErrInvalidAncestor, "parent %s is invalid", parent.hash)
		}
		// The header version is BlockVersion.
		if h.Version != BlockVersion {
			return nil, ruleErr(ErrBadVersion, "version %d, want %d", h.Version, BlockVersion)
		}
		if err := checkProofOfWork(h, hash, c.p); err != nil {
			return nil, err
		}
		if err := checkHeaderContext(h, parent, now, c.p); err != nil {
			return nil, err
		}
		parent = &blockNode{
			hash:   hash,
			header: *h,
			parent: parent,
			work:   new(big.Int).Add(parent.work, Work(h.Bits)),
			anchor: anchorFor(h, parent),
		}
	}
	return parent.work, nil
}
