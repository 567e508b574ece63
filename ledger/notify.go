package ledger

// This file holds the tip subscriptions: channels told of every new tip.

// tipSub is one tip subscription: a channel holding at most the latest tip.
type tipSub struct{ ch chan TipInfo }

// SubscribeTip returns a channel that receives the new tip whenever it
// changes (only the latest is kept if the reader falls behind) and a
// function that ends the subscription and closes the channel.
func (c *Chain) SubscribeTip() (<-chan TipInfo, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &tipSub{ch: make(chan TipInfo, 1)}
	c.subs[s] = struct{}{}
	return s.ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, ok := c.subs[s]; ok {
			delete(c.subs, s)
			close(s.ch)
		}
	}
}

func (c *Chain) notify(t TipInfo) {
	for s := range c.subs {
		select {
		case <-s.ch: // drop the stale tip
		default:
		}
		select {
		case s.ch <- t:
		default:
		}
	}
}
