package ledger

// This file holds the chain view: the main chain (Chain.main, one node per
// height) and the choice of the best chain by cumulative work.

func (c *Chain) tipNode() *blockNode { return c.main[len(c.main)-1] }

// better reports whether a should be the tip rather than b: more work, or
// equal work and seen first.
func better(a, b *blockNode) bool {
	if c := a.work.Cmp(b.work); c != 0 {
		return c > 0
	}
	return a.seq < b.seq
}

func (c *Chain) recomputeBest() {
	c.best = c.tipNode()
	for _, n := range c.index {
		if !n.invalid() && better(n, c.best) {
			c.best = n
		}
	}
}

func (c *Chain) onMain(n *blockNode) bool {
	return n != nil && n.header.Height < uint64(len(c.main)) && c.main[n.header.Height] == n
}
