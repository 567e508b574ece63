package node

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	basicconnmgr "github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/prometheus/client_golang/prometheus"
)

// userAgent is what identify tells other peers about us.
const userAgent = "myco/" + Version

// newHost builds the libp2p host of a daemon: TCP and QUIC, Noise, yamux,
// a resource manager scaled to the configured memory and descriptors, and a
// connection manager with the configured water marks, and the gater that
// refuses banned peers. Metrics go to reg.
func newHost(sk crypto.PrivKey, listen []string, lim Limits, reg prometheus.Registerer, gater connmgr.ConnectionGater) (host.Host, error) {
	mem, err := ParseSize(lim.MaxMemory)
	if err != nil {
		return nil, fmt.Errorf("max_memory: %w", err)
	}
	if mem == 0 {
		mem = 1 << 30
	}
	fds := lim.MaxFDs
	if fds == 0 {
		fds = 1024
	}
	scaling := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&scaling)
	rcmgr.MustRegisterWith(reg)
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(scaling.Scale(mem, fds)))
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	low, high := lim.ConnLow, lim.ConnHigh
	if high == 0 {
		low, high = 64, 256
	}
	cm, err := basicconnmgr.NewConnManager(low, high, basicconnmgr.WithGracePeriod(time.Minute))
	if err != nil {
		rm.Close()
		return nil, fmt.Errorf("connection manager: %w", err)
	}
	h, err := libp2p.New(
		libp2p.Identity(sk),
		libp2p.ListenAddrStrings(listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.ConnectionGater(gater),
		libp2p.PrometheusRegisterer(reg),
		libp2p.UserAgent(userAgent),
	)
	if err != nil {
		rm.Close()
		cm.Close()
		return nil, fmt.Errorf("start libp2p host: %w", err)
	}
	return h, nil
}
