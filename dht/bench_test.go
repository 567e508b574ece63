package dht

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
)

// BenchmarkFindProviders measures provider lookups over a 50-node mocknet
// network (each node bootstrapped to node 0): the time until the first
// provider arrives and the messages a lookup sends, with and without the
// direct asks to connected peers, and for a lookup run to its end. It
// reports p50/p95 latency and mean messages per lookup.
func BenchmarkFindProviders(b *testing.B) {
	tn := newTestNet(b, networkSize, nil)
	ctx := b.Context()
	rng := rand.New(rand.NewPCG(1, 2))
	const nroots = 16
	type rooted struct {
		c        cid.Cid
		provider int
	}
	roots := make([]rooted, nroots)
	for i := range roots {
		roots[i] = rooted{rootCID(b, fmt.Sprintf("bench root %d", i)), rng.IntN(networkSize)}
		if err := tn.nodes[roots[i].provider].Provide(ctx, roots[i].c); err != nil {
			b.Fatalf("provide: %v", err)
		}
	}

	for _, mode := range []struct {
		name string
		opt  FindOptions
	}{
		{"first/lookup-only", FindOptions{Limit: 1, LookupOnly: true}},
		{"first/lookup+connected", FindOptions{Limit: 1}},
		{"complete/lookup-only", FindOptions{LookupOnly: true}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			var (
				lat  []time.Duration
				msgs int
			)
			for b.Loop() {
				r := roots[rng.IntN(nroots)]
				from := rng.IntN(networkSize)
				if from == r.provider {
					from = (from + 1) % networkSize
				}
				opt := mode.opt
				opt.Stats = new(LookupStats)
				lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				start := time.Now()
				ch, err := tn.nodes[from].FindProviders(lctx, r.c, opt)
				if err != nil {
					b.Fatal(err)
				}
				var first time.Duration
				for range ch {
					if first == 0 {
						first = time.Since(start)
					}
				}
				cancel()
				if first == 0 {
					b.Fatalf("node %d did not find the provider of %s", from, r.c)
				}
				lat = append(lat, first)
				msgs += opt.Stats.Messages
			}
			slices.Sort(lat)
			pct := func(p float64) float64 {
				return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.95), "p95-ms")
			b.ReportMetric(float64(msgs)/float64(len(lat)), "msgs/lookup")
		})
	}
}
