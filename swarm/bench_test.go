package swarm

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/myco-p2p/myco/chunker"
)

const rawProtocol = protocol.ID("/myco/bench/raw/1.0.0")

func loopbackHost(b *testing.B) host.Host {
	b.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	return h
}

// rawTransfer sends size bytes from one host to the other on one plain
// go-libp2p stream and returns how long it took until the receiver had
// read them all.
func rawTransfer(b *testing.B, from, to host.Host, size int) time.Duration {
	b.Helper()
	done := make(chan int64, 1)
	to.SetStreamHandler(rawProtocol, func(s network.Stream) {
		n, _ := io.Copy(io.Discard, s)
		s.Close()
		done <- n
	})
	defer to.RemoveStreamHandler(rawProtocol)
	buf := make([]byte, 1<<20)
	start := time.Now()
	s, err := from.NewStream(context.Background(), to.ID(), rawProtocol)
	if err != nil {
		b.Fatal(err)
	}
	for sent := 0; sent < size; sent += len(buf) {
		if _, err := s.Write(buf[:min(len(buf), size-sent)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.CloseWrite(); err != nil {
		b.Fatal(err)
	}
	select {
	case n := <-done:
		if n != int64(size) {
			b.Fatalf("raw stream moved %d bytes, want %d", n, size)
		}
	case <-time.After(hangGuard):
		b.Fatal("raw transfer hangs")
	}
	d := time.Since(start)
	s.Close()
	return d
}

// BenchmarkTransfer measures one seeder to one leecher over real TCP on
// 127.0.0.1 (1 MiB leaves, verified on both ends, written to disk),
// against one raw go-libp2p stream between the same two hosts in the same
// run. MB/s is the swarm's; x-raw is swarm throughput over raw.
func BenchmarkTransfer(b *testing.B) {
	for _, size := range []int{16 << 20, 64 << 20, 256 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) { benchTransfer(b, size) })
	}
}

func benchTransfer(b *testing.B, size int) {
	seedH, leechH := loopbackHost(b), loopbackHost(b)
	if err := leechH.Connect(context.Background(), peer.AddrInfo{ID: seedH.ID(), Addrs: seedH.Addrs()}); err != nil {
		b.Fatal(err)
	}
	pair := newTransferPair(b, seedH, leechH, size)
	var raw, swarm, cpu time.Duration
	b.SetBytes(int64(size))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		raw += rawTransfer(b, seedH, leechH, size)
		b.StartTimer()
		c0 := processCPU(b)
		took, _ := pair.fetch(b, i)
		cpu += processCPU(b) - c0
		swarm += took
	}
	b.StopTimer()
	rawRate := float64(size) * float64(b.N) / raw.Seconds() / 1e6
	swarmRate := float64(size) * float64(b.N) / swarm.Seconds() / 1e6
	b.ReportMetric(rawRate, "raw-MB/s")
	b.ReportMetric(swarmRate/rawRate, "x-raw")
	if cpu > 0 {
		// Both ends run in this process: their CPU time over two cores is
		// the shortest the fetch could take on this machine.
		gib := float64(size) * float64(b.N) / (1 << 30)
		b.ReportMetric(cpu.Seconds()/gib, "cpu-s/GiB")
		b.ReportMetric(swarm.Seconds()/(cpu.Seconds()/2), "x-floor-time")
	}
}

// transferPair is a seeder that shares size random bytes (1 MiB leaves)
// and a leecher, each a Service on its own store, on two connected hosts.
type transferPair struct {
	leecher    *Service
	leechStore *chunker.Store
	root       cid.Cid
	size       int
	outDir     string
}

func newTransferPair(b *testing.B, seedH, leechH host.Host, size int) *transferPair {
	b.Helper()
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
	rand.NewChaCha8([32]byte{1}).Read(data)
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
	return &transferPair{leecher: leecher, leechStore: leechStore, root: ri.Cid, size: size, outDir: b.TempDir()}
}

// fetch fetches the root on the leecher (the i-th time), checks that every
// leaf came, and removes it again, with the timer stopped for the checks.
// It returns the time from Fetch to the verified file and to the first
// leaf received.
func (p *transferPair) fetch(b *testing.B, i int) (took, first time.Duration) {
	b.Helper()
	dest := filepath.Join(p.outDir, fmt.Sprint(i))
	start := time.Now()
	dl, err := p.leecher.Fetch(context.Background(), p.root, dest, FetchOptions{})
	if err != nil {
		b.Fatal(err)
	}
	guard := time.After(hangGuard)
	for first == 0 {
		if dl.Progress().Received > 0 {
			first = time.Since(start)
			break
		}
		select {
		case <-dl.Updates():
		case <-dl.Done():
			first = time.Since(start)
		case <-guard:
			b.Fatal("no leaf arrived")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	_, err = dl.Wait(ctx)
	cancel()
	if err != nil {
		b.Fatal(err)
	}
	took = time.Since(start)
	b.StopTimer()
	defer b.StartTimer()
	if pr := dl.Progress(); pr.Received != pr.Leaves || pr.Downloaded < int64(p.size) {
		b.Fatalf("the fetch received %d of %d leaves, %d bytes", pr.Received, pr.Leaves, pr.Downloaded)
	}
	dl.Stop()
	if err := p.leechStore.Remove(p.root); err != nil {
		b.Fatal(err)
	}
	os.Remove(dest)
	return took, first
}
