package swarm

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
)

// The emulated wide-area link of BenchmarkLinkRate: 50 ms each way (a
// 100 ms round trip) at 100 Mbit/s.
const (
	linkLatency = 50 * time.Millisecond
	linkRate    = 100e6 / 8 // bytes per second
)

// BenchmarkLinkRate measures one seeder to one leecher, the real swarm on
// both ends, over a mocknet link with linkLatency each way and linkRate
// (LinkOptions). MB/s is the swarm's; x-link is its throughput over the
// link's rate; raw-x-link is one plain stream's, written 1 MiB at a time,
// over the same link in the same run: mocknet's own ceiling.
//
// The time counts from Fetch to the verified file, the stream setup
// included. mocknet's rate limiter is one token bucket per link, both
// directions, that banks idle time as credit (up to a second of it); the
// link options are set again, which empties the bucket, right before each
// timed transfer, but the setup's round trips before the first leaf still
// bank credit. x-link-worst charges that time twice (as if every moment
// before the first leaf had been credited), a lower bound of what a link
// without credit would give; first-leaf-ms is that time.
// mocknet delays every write by the latency and keeps at most about two
// writes of a stream in flight, and its rate limiter is one token bucket
// per link for both directions that holds up to a second of idle credit:
// the link options are set again (which empties the bucket) right before
// each timed transfer, so no transfer rides on credit the previous one
// left.
func BenchmarkLinkRate(b *testing.B) {
	for _, size := range []int{16 << 20, 64 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) { benchLinkRate(b, size) })
	}
}

func benchLinkRate(b *testing.B, size int) {
	mn := mocknet.New()
	b.Cleanup(func() { mn.Close() })
	opts := mocknet.LinkOptions{Latency: linkLatency, Bandwidth: linkRate}
	mn.SetLinkDefaults(opts)
	gen := func() host.Host {
		h, err := mn.GenPeer()
		if err != nil {
			b.Fatal(err)
		}
		return h
	}
	seedH, leechH := gen(), gen()
	if err := mn.LinkAll(); err != nil {
		b.Fatal(err)
	}
	if err := leechH.Connect(context.Background(), peer.AddrInfo{ID: seedH.ID(), Addrs: seedH.Addrs()}); err != nil {
		b.Fatal(err)
	}
	fresh := func() {
		for _, l := range mn.LinksBetweenPeers(seedH.ID(), leechH.ID()) {
			l.SetOptions(opts)
		}
	}
	pair := newTransferPair(b, seedH, leechH, size)
	var raw, swarm, first time.Duration
	b.SetBytes(int64(size))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		fresh()
		raw += rawTransfer(b, seedH, leechH, size)
		fresh()
		b.StartTimer()
		took, f := pair.fetch(b, i)
		swarm += took
		first += f
	}
	b.StopTimer()
	rawRate := float64(size) * float64(b.N) / raw.Seconds()
	swarmRate := float64(size) * float64(b.N) / swarm.Seconds()
	b.ReportMetric(linkRate/1e6, "link-MB/s")
	b.ReportMetric(rawRate/linkRate, "raw-x-link")
	b.ReportMetric(swarmRate/linkRate, "x-link")
	b.ReportMetric(float64(size)*float64(b.N)/(swarm+first).Seconds()/linkRate, "x-link-worst")
	b.ReportMetric(first.Seconds()*1e3/float64(b.N), "first-leaf-ms")
}
