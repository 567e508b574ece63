package dht

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/ipfs/go-cid"
	kaddht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
)

// FindOptions tunes one FindProviders call.
type FindOptions struct {
	// Limit stops the search after this many distinct providers; 0 runs
	// the lookup to its end.
	Limit int
	// LookupOnly skips the direct asks to connected peers and relies on
	// the iterative lookup alone (benchmarks compare the two).
	LookupOnly bool
	// Stats, when set, is filled in before the result channel closes.
	Stats *LookupStats
}

// LookupStats is what one FindProviders call cost.
type LookupStats struct {
	// Messages counts GET_PROVIDERS requests sent: those of the iterative
	// lookup plus the direct asks to connected peers.
	Messages int
	// DirectAsks counts the requests sent to already-connected peers.
	DirectAsks int
	// Rounds is the longest referral chain the iterative lookup followed:
	// 1 when only peers from the local routing table were asked, 2 when
	// one of them pointed at a peer that was then asked, and so on.
	Rounds int
	// Providers counts the distinct providers delivered.
	Providers int
}

// FindProviders looks for the peers that provide root c and streams them,
// each once and never the local node, on the returned channel as they are
// found. The iterative lookup starts at once (there is no search delay) and,
// in parallel, the already-connected DHT peers (at most MaxDirectAsks) are
// asked directly, which answers in one round trip when a swarm peer holds
// the root. The channel closes when both are done, Limit providers were
// found, ctx ends or the DHT closes. The caller reads it to the end or
// cancels ctx. An offline provider costs nothing here: nobody dials it.
func (d *DHT) FindProviders(ctx context.Context, c cid.Cid, opt FindOptions) (<-chan peer.AddrInfo, error) {
	if err := checkCID("find providers", c); err != nil {
		return nil, err
	}
	if opt.Limit < 0 {
		return nil, fmt.Errorf("find providers %s: limit %d is negative", c, opt.Limit)
	}
	ctx, leave, err := d.enter(ctx)
	if err != nil {
		return nil, fmt.Errorf("find providers %s: %w", c, err)
	}
	out := make(chan peer.AddrInfo)
	go func() {
		defer leave()
		defer close(out)
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		d.findProviders(ctx, cancel, c, opt, out)
	}()
	return out, nil
}

// findProviders merges the lookup and the direct asks, deduplicates, and
// delivers to out until done.
func (d *DHT) findProviders(ctx context.Context, cancel context.CancelFunc, c cid.Cid, opt FindOptions, out chan<- peer.AddrInfo) {
	found := make(chan peer.AddrInfo)
	var (
		wg       sync.WaitGroup
		lookup   lookupTrace
		direct   atomic.Int64
		provided int
	)
	wg.Go(func() { d.lookupProviders(ctx, c, opt, &lookup, found) })
	if !opt.LookupOnly {
		wg.Go(func() { d.askConnected(ctx, c, &direct, found) })
	}
	go func() { wg.Wait(); close(found) }()

	seen := map[peer.ID]struct{}{d.host.ID(): {}}
	for ai := range found {
		if _, dup := seen[ai.ID]; dup {
			continue
		}
		seen[ai.ID] = struct{}{}
		if ctx.Err() != nil {
			continue // draining after the limit, a cancel or Close
		}
		select {
		case out <- ai:
			provided++
		case <-ctx.Done():
		}
		if opt.Limit > 0 && provided >= opt.Limit {
			cancel()
		}
	}
	// found is closed: both sources have returned, and with them every
	// lookup event has been counted.
	if opt.Stats != nil {
		n := int(direct.Load())
		*opt.Stats = LookupStats{
			Messages:   lookup.messages + n,
			DirectAsks: n,
			Rounds:     lookup.rounds,
			Providers:  provided,
		}
	}
}

// lookupTrace follows one iterative lookup through the library's lookup
// events: every request event is one GET_PROVIDERS message, and the event
// names the peer that referred the queried one, which gives its depth.
type lookupTrace struct {
	messages int
	rounds   int
}

func (t *lookupTrace) follow(self peer.ID, events <-chan *kaddht.LookupEvent) {
	depth := map[peer.ID]int{self: 0}
	for ev := range events {
		if ev.Request == nil {
			continue
		}
		ref := 0
		if src := ev.Request.Source; src != nil {
			ref = depth[src.Peer]
		}
		for _, p := range ev.Request.Waiting {
			t.messages++
			if _, ok := depth[p.Peer]; !ok {
				depth[p.Peer] = ref + 1
				t.rounds = max(t.rounds, ref+1)
			}
		}
	}
}

// lookupProviders runs the library's iterative lookup and forwards what it
// finds. When stats are wanted it also follows the lookup's events, and
// returns only once every event has been counted.
func (d *DHT) lookupProviders(ctx context.Context, c cid.Cid, opt FindOptions, trace *lookupTrace, found chan<- peer.AddrInfo) {
	lctx, lcancel := context.WithCancel(ctx)
	defer lcancel()
	var follow sync.WaitGroup
	if opt.Stats != nil {
		var events <-chan *kaddht.LookupEvent
		lctx, events = kaddht.RegisterForLookupEvents(lctx)
		follow.Go(func() { trace.follow(d.host.ID(), events) })
	}
	// Ask for one more than the limit: the library counts the local node
	// among the providers, and this layer drops it.
	count := opt.Limit
	if count > 0 {
		count++
	}
	for ai := range d.kad.FindProvidersAsync(lctx, c, count) {
		select {
		case found <- ai:
		case <-ctx.Done():
		}
	}
	// The lookup has returned, so every event was published; ending lctx
	// closes the event channel and lets the follower finish.
	lcancel()
	follow.Wait()
}

// askConnected sends one GET_PROVIDERS to each connected peer that speaks
// the myco DHT protocol, in parallel, and forwards the providers they know.
func (d *DHT) askConnected(ctx context.Context, c cid.Cid, sent *atomic.Int64, found chan<- peer.AddrInfo) {
	var peers []peer.ID
	for _, p := range d.host.Network().Peers() {
		if len(peers) == d.cfg.MaxDirectAsks {
			break
		}
		if ok, err := d.host.Peerstore().SupportsProtocols(p, ProtocolID); err == nil && len(ok) > 0 {
			peers = append(peers, p)
		}
	}
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Go(func() {
			sent.Add(1)
			provs, _, err := d.msgr.GetProviders(ctx, p, c.Hash())
			if err != nil {
				d.log.Debug("direct provider ask failed", "peer", p, "cid", c, "err", err)
				return
			}
			for _, ai := range provs {
				if ai == nil || ai.ID == "" {
					continue
				}
				d.host.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)
				select {
				case found <- *ai:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	wg.Wait()
}
