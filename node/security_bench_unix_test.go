//go:build !windows

package node

import (
	"context"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

// BenchmarkSecureStream streams 256 MiB over one yamux stream between two
// libp2p hosts on loopback TCP, secured by Noise (ChaCha20-Poly1305) and by
// TLS 1.3 (AES-GCM where the CPU has AES instructions), and reports MB/s
// and the CPU-seconds per GiB both ends spent together (process rusage:
// both hosts run in this process). It is what decided the host's order of
// security transports (host.go).
func BenchmarkSecureStream(b *testing.B) {
	for _, sec := range []struct {
		name string
		opt  libp2p.Option
	}{
		{"noise", libp2p.Security(noise.ID, noise.New)},
		{"tls", libp2p.Security(libp2ptls.ID, libp2ptls.New)},
	} {
		b.Run(sec.name, func(b *testing.B) {
			const size = 256 << 20
			newHost := func() host.Host {
				h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.Transport(tcp.NewTCPTransport),
					sec.opt, libp2p.Muxer(yamux.ID, yamuxTransport()), libp2p.DisableRelay(), libp2p.ResourceManager(&network.NullResourceManager{}))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { h.Close() })
				return h
			}
			src, dst := newHost(), newHost()
			done := make(chan error, 1)
			dst.SetStreamHandler("/bench", func(s network.Stream) {
				_, err := io.Copy(io.Discard, s)
				s.Close()
				done <- err
			})
			ctx := context.Background()
			if err := src.Connect(ctx, peer.AddrInfo{ID: dst.ID(), Addrs: dst.Addrs()}); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 1<<20)
			var cpu, wall time.Duration
			b.SetBytes(size)
			b.ResetTimer()
			for range b.N {
				s, err := src.NewStream(ctx, dst.ID(), "/bench")
				if err != nil {
					b.Fatal(err)
				}
				c0, t0 := cpuTime(b), time.Now()
				for n := 0; n < size; n += len(buf) {
					if _, err := s.Write(buf); err != nil {
						b.Fatal(err)
					}
				}
				s.CloseWrite()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				wall += time.Since(t0)
				cpu += cpuTime(b) - c0
				s.Close()
			}
			gib := float64(b.N) * size / (1 << 30)
			b.ReportMetric(cpu.Seconds()/gib, "cpu-s/GiB")
			b.ReportMetric(float64(b.N)*size/wall.Seconds()/1e6, "MB/s")
		})
	}
}

// cpuTime is the user and system time this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
