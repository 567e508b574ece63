package swarm

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"

	"github.com/myco-p2p/myco/chunker"
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
	open := func() *chunker.Store {
		s, err := chunker.Open(b.TempDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}
	seedStore, leechStore := open(), open()
	src := filepath.Join(b.TempDir(), "src")
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{2}).Read(data)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		b.Fatal(err)
	}
	ri, err := seedStore.AddPath(context.Background(), src, chunker.DefaultParams())
	if err != nil {
		b.Fatal(err)
	}
	seeder, err := New(seedH, seedStore, Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { seeder.Close() })
	leecher, err := New(leechH, leechStore, Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { leecher.Close() })
	outDir := b.TempDir()

	var raw, swarm, first time.Duration
	b.SetBytes(int64(size))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		fresh()
		raw += rawTransfer(b, seedH, leechH, size)
		dest := filepath.Join(outDir, fmt.Sprint(i))
		fresh()
		b.StartTimer()
		start := time.Now()
		dl, err := leecher.Fetch(context.Background(), ri.Cid, dest, FetchOptions{})
		if err != nil {
			b.Fatal(err)
		}
		firstLeaf(b, dl)
		first += time.Since(start)
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		_, err = dl.Wait(ctx)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		swarm += time.Since(start)
		b.StopTimer()
		if p := dl.Progress(); p.Received != p.Leaves || p.Downloaded < int64(size) {
			b.Fatalf("the fetch received %d of %d leaves, %d bytes", p.Received, p.Leaves, p.Downloaded)
		}
		dl.Stop()
		if err := leechStore.Remove(ri.Cid); err != nil {
			b.Fatal(err)
		}
		os.Remove(dest)
		b.StartTimer()
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

// firstLeaf waits until dl has received its first leaf (or ended).
func firstLeaf(b *testing.B, dl *Download) {
	b.Helper()
	guard := time.After(hangGuard)
	for dl.Progress().Received == 0 {
		select {
		case <-dl.Updates():
		case <-dl.Done():
			return
		case <-guard:
			b.Fatal("no leaf arrived")
		}
	}
}
