package dht

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

const networkSize = 50

// TestNetwork50 is the acceptance test: 50 nodes, each bootstrapped
// only to node 0, fill their routing tables; a root provided by one node is
// found from every other; lookups stop after O(log N) rounds.
func TestNetwork50(t *testing.T) {
	tn := newTestNet(t, networkSize, nil)
	ctx := t.Context()

	// Routing tables fill by themselves: each node's bootstrap refresh
	// reaches the nodes that joined before it, and they add the newcomer
	// when it queries them. Those additions finish asynchronously and the
	// library announces none of them, so this waits (bounded) until every
	// node holds at least 80% of the peers a perfect table would.
	minFrac := func() (float64, int) {
		worst, at := 1.0, 0
		for i, d := range tn.nodes {
			if f := float64(len(d.Peers())) / float64(tn.idealTableSize(i)); f < worst {
				worst, at = f, i
			}
		}
		return worst, at
	}
	waitFor(t, 20*time.Second, func() bool { f, _ := minFrac(); return f >= 0.8 }, func() string {
		f, i := minFrac()
		return fmt.Sprintf("node %d holds %d of its ideal %d peers (%.0f%%)",
			i, len(tn.nodes[i].Peers()), tn.idealTableSize(i), 100*f)
	})
	worst, _ := minFrac()
	t.Logf("routing tables: worst node holds %.0f%% of its ideal table", 100*worst)

	// A root provided by node 7 is found from every other node.
	const provider = 7
	root := rootCID(t, "network-50 root")
	if err := tn.nodes[provider].Provide(ctx, root); err != nil {
		t.Fatalf("provide: %v", err)
	}
	want := tn.hosts[provider].ID()
	log2N := math.Log2(networkSize)
	for _, mode := range []struct {
		name string
		opt  FindOptions
	}{
		{"lookup only", FindOptions{Limit: 1, LookupOnly: true}},
		{"lookup and connected peers", FindOptions{Limit: 1}},
	} {
		var (
			mu    sync.Mutex
			stats []LookupStats
		)
		tn.parallel(t, 4, func(i int, d *DHT) error {
			if i == provider {
				return nil
			}
			lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			opt := mode.opt
			opt.Stats = new(LookupStats)
			got, err := findAll(lctx, d, root, opt)
			if err != nil {
				return err
			}
			if !slices.Equal(got, []peer.ID{want}) {
				t.Errorf("%s: node %d found %v, want provider %s", mode.name, i, got, want)
			}
			mu.Lock()
			stats = append(stats, *opt.Stats)
			mu.Unlock()
			return nil
		})
		maxLookup, maxRounds, sum := 0, 0, 0
		for _, st := range stats {
			lookupMsgs := st.Messages - st.DirectAsks
			maxLookup = max(maxLookup, lookupMsgs)
			maxRounds = max(maxRounds, st.Rounds)
			sum += st.Messages
			// O(log N): the iterative lookup follows at most log2(N)
			// referral rounds and sends at most 4*log2(N) messages; the
			// direct asks add at most MaxDirectAsks, a constant.
			if float64(st.Rounds) > log2N || float64(lookupMsgs) > 4*log2N {
				t.Errorf("%s: lookup took %d rounds, %d messages; bound %.1f rounds, %.1f messages",
					mode.name, st.Rounds, lookupMsgs, log2N, 4*log2N)
			}
			if st.DirectAsks > DefaultMaxDirectAsks {
				t.Errorf("%s: %d direct asks, at most %d allowed", mode.name, st.DirectAsks, DefaultMaxDirectAsks)
			}
		}
		t.Logf("%s: %d lookups, messages mean %.1f, lookup messages max %d, rounds max %d (log2 N = %.1f)",
			mode.name, len(stats), float64(sum)/float64(len(stats)), maxLookup, maxRounds, log2N)
	}
}
