package node

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/myco-p2p/myco/swarm"
)

// Bounds of holders: the roots it remembers providers for, and the
// providers per root.
const (
	maxHolderRoots = 256
	maxHoldersPer  = 64
)

// holders remembers, per root being fetched, the providers the DHT named,
// so that a fetch that never reached one can say that holders exist.
type holders struct {
	mu sync.Mutex
	m  map[cid.Cid]map[peer.ID]struct{}
}

func (h *holders) add(root cid.Cid, id peer.ID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = make(map[cid.Cid]map[peer.ID]struct{})
	}
	set, ok := h.m[root]
	if !ok {
		if len(h.m) >= maxHolderRoots {
			return
		}
		set = make(map[peer.ID]struct{})
		h.m[root] = set
	}
	if len(set) < maxHoldersPer {
		set[id] = struct{}{}
	}
}

// take returns how many providers were named for root and forgets them.
func (h *holders) take(root cid.Cid) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := len(h.m[root])
	delete(h.m, root)
	return n
}

// watch passes the providers of in on, remembering each for root. It
// drains in after ctx ends, so the lookup behind it can finish.
func (h *holders) watch(ctx context.Context, root cid.Cid, in <-chan peer.AddrInfo) <-chan peer.AddrInfo {
	out := make(chan peer.AddrInfo)
	go func() {
		defer close(out)
		for ai := range in {
			h.add(root, ai.ID)
			select {
			case out <- ai:
			case <-ctx.Done():
			}
		}
	}()
	return out
}

// explainNoProviders adds to a fetch's ErrNoProviders, when the DHT named
// holders of root that the fetch never reached, that they exist and why
// they may be out of reach. It forgets root's holders in any case.
func (h *holders) explainNoProviders(root cid.Cid, err error) error {
	n := h.take(root)
	if n == 0 || !errors.Is(err, swarm.ErrNoProviders) {
		return err
	}
	return fmt.Errorf("%w: %d peer(s) announced it but none could be reached directly: they are offline, or behind NATs "+
		"that cannot be crossed from here, and no relay between us carries file data; forwarding the TCP and UDP "+
		"listen port (%d on main) to this machine or to theirs would help, or a relay that carries data "+
		"(relay.carry_data on a public node, listed in relay.static on both sides)", err, n, DefaultPort)
}
