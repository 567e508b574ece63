package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multihash"

	"github.com/myco-p2p/myco/swarm"
)

func TestHoldersExplainNoProviders(t *testing.T) {
	mh, err := multihash.Sum([]byte("root"), multihash.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	root := cid.NewCidV1(cid.Raw, mh)
	noProv := fmt.Errorf("%w within 1m0s", swarm.ErrNoProviders)

	var h holders
	if err := h.explainNoProviders(root, noProv); err != noProv {
		t.Errorf("no holders named: %v; want the error unchanged", err)
	}

	in := make(chan peer.AddrInfo, 2)
	in <- peer.AddrInfo{ID: peer.ID("a")}
	in <- peer.AddrInfo{ID: peer.ID("b")}
	close(in)
	var got int
	for range h.watch(context.Background(), root, in) {
		got++
	}
	if got != 2 {
		t.Fatalf("watch passed on %d providers; want 2", got)
	}
	err = h.explainNoProviders(root, noProv)
	if !errors.Is(err, swarm.ErrNoProviders) || !strings.Contains(err.Error(), "2 peer(s) announced it") {
		t.Errorf("two holders never reached: %v", err)
	}
	if err := h.explainNoProviders(root, noProv); err != noProv {
		t.Errorf("holders not forgotten: %v", err)
	}

	// After ctx ends watch stops passing providers on but drains its input.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in2 := make(chan peer.AddrInfo)
	out := h.watch(ctx, root, in2)
	in2 <- peer.AddrInfo{ID: peer.ID("c")}
	close(in2)
	for range out {
	}
	if n := h.take(root); n != 1 {
		t.Errorf("after cancel: %d holders remembered; want 1", n)
	}
}
