package attack

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/ledger/ledgertest"
)

// TxFlood is what FloodUnfundedTxs achieved.
type TxFlood struct {
	// Published counts the transactions handed to gossip; BytesOut their
	// encoded size.
	Published int
	BytesOut  int64
	// Banned is how long after the start the victim dropped the
	// connection (zero if it never did).
	Banned time.Duration
	Err    error
}

// FloodUnfundedTxs joins the transactions topic of network n on h and
// publishes up to max validly signed transfers from fresh, unfunded keys
// until target drops the connection or ctx ends. Signing is the
// attacker's cost: the keys are cheap, the signatures real.
func FloodUnfundedTxs(ctx context.Context, h host.Host, target peer.ID, n ledger.Network, max int) TxFlood {
	return floodTxs(ctx, h, target, n, max, unfunded)
}

// FloodGappedTxs publishes transfers whose nonce is one past their
// sender's next: a victim cannot tell one from an honest sender's whose
// previous transaction has not reached it yet, so it ignores each without
// scoring its relay, but spends a validation on it. The attacker signs
// one and sends it with a different signature each time (the last bytes
// count), since a victim that stops at the nonce never checks it: the
// flood costs the attacker no signing at all.
func FloodGappedTxs(ctx context.Context, h host.Host, target peer.ID, n ledger.Network, max int) TxFlood {
	return floodTxs(ctx, h, target, n, max, gapped)
}

// txMode is what floodTxs publishes.
type txMode int

const (
	// unfunded: transfers of nonce 0, each from a fresh key, each signed.
	unfunded txMode = iota
	// gapped: one transfer of nonce 1 from one key, signed once, its
	// signature altered for each copy.
	gapped
)

// floodTxs publishes transfers as mode says.
func floodTxs(ctx context.Context, h host.Host, target peer.ID, n ledger.Network, max int, mode txMode) TxFlood {
	var res TxFlood
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ps, err := pubsub.NewGossipSub(ctx, h, pubsub.WithFloodPublish(true), pubsub.WithPeerOutboundQueueSize(4096))
	if err != nil {
		res.Err = err
		return res
	}
	topic, err := ps.Join("/myco/" + n.String() + "/txs/1")
	if err != nil {
		res.Err = err
		return res
	}
	defer topic.Close()
	// The victim must know we are on the topic before it takes our
	// messages: wait (bounded by ctx) for it to appear as a topic peer.
	for !contains(topic.ListPeers(), target) {
		select {
		case <-ctx.Done():
			res.Err = fmt.Errorf("the victim never joined the topic: %w", ctx.Err())
			return res
		case <-time.After(50 * time.Millisecond):
		}
	}
	g := ledgertest.New(n.Params(), 0)
	to := ledgertest.Addr(ledgertest.DeterministicKey(1))
	start := time.Now()
	ahead := g.Transfer(ledgertest.DeterministicKey(999_999), to, ledger.Coin, 1000, 1)
	for i := range max {
		if h.Network().Connectedness(target) != network.Connected {
			res.Banned = time.Since(start)
			return res
		}
		var data []byte
		switch mode {
		case unfunded:
			data = g.Transfer(ledgertest.DeterministicKey(1_000_000+i), to, ledger.Coin, 1000, 0).Encode()
		case gapped:
			binary.BigEndian.PutUint64(ahead.Sig[len(ahead.Sig)-8:], uint64(i))
			data = ahead.Encode()
		}
		if err := topic.Publish(ctx, data); err != nil {
			res.Err = err
			return res
		}
		res.Published++
		res.BytesOut += int64(len(data))
	}
	return res
}

func contains(ps []peer.ID, p peer.ID) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}
