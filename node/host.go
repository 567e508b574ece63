package node

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
	"github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	basicconnmgr "github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	yamuxlib "github.com/libp2p/go-yamux/v5"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/myco-p2p/myco/ledger/netsync"
)

// userAgent is what identify tells other peers about us.
const userAgent = "myco/" + Version

// hostConfig is what newHost needs of the node's config.
type hostConfig struct {
	Network string
	Listen  []string
	Limits  Limits
	// Relays are the relay candidates in order of preference: config
	// relay.static, then the bootstrap peers.
	Relays     []peer.AddrInfo
	Announce   []string
	NoAnnounce []string
	// Security is Config.Security: which secure channel TCP offers first.
	Security string
}

// hopProtocol is the circuit relay v2 protocol a relay serves; a peer whose
// identify lists it is a relay candidate.
const hopProtocol = protocol.ID("/libp2p/circuit/relay/0.2.0/hop")

// newHost builds the libp2p host of a daemon: TCP and QUIC; TLS 1.3 offered
// before Noise, as kubo does (with AES instructions TLS's AES-GCM costs half
// the CPU of Noise's ChaCha20-Poly1305: BenchmarkSecureStream), Noise kept
// for peers that want it (config security "noise" offers it first); yamux,
// a resource manager scaled to the configured memory and descriptors, and a
// connection manager with the configured water marks, and the gater that
// refuses banned peers. For reaching and being reached from behind NATs it
// runs AutoNAT v2, the circuit relay v2 transport, autorelay over hc.Relays
// and relays learned from peers, DCUtR hole punching, and on main
// UPnP/NAT-PMP port mapping. The relay service is started beside it
// (relay.go).
// Metrics go to reg.
func newHost(sk crypto.PrivKey, hc hostConfig, reg prometheus.Registerer, gater *netsync.Blocklist) (host.Host, error) {
	lim := hc.Limits
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
	opts, setHost, err := reachOptions(hc)
	if err != nil {
		rm.Close()
		cm.Close()
		return nil, err
	}
	h, err := libp2p.New(append([]libp2p.Option{
		libp2p.Identity(sk),
		libp2p.ListenAddrStrings(hc.Listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		securityOptions(hc.Security),
		libp2p.Muxer(yamux.ID, yamuxTransport()),
		// The gater throttles a banned peer's address before the QUIC
		// handshake through the resource manager (see Blocklist).
		libp2p.ResourceManager(gater.ResourceManager(rm)),
		libp2p.ConnectionManager(cm),
		libp2p.ConnectionGater(gater),
		libp2p.PrometheusRegisterer(reg),
		libp2p.UserAgent(userAgent),
		libp2p.DialRanker(dialRanker),
	}, opts...)...)
	if err != nil {
		rm.Close()
		cm.Close()
		return nil, fmt.Errorf("start libp2p host: %w", err)
	}
	setHost(h)
	return h, nil
}

// securityOptions offers TLS 1.3 and Noise, "noise" first when asked to
// (config security), TLS first otherwise.
func securityOptions(first string) libp2p.Option {
	tls := libp2p.Security(libp2ptls.ID, libp2ptls.New)
	nz := libp2p.Security(noise.ID, noise.New)
	if first == SecurityNoise {
		return libp2p.ChainOptions(nz, tls)
	}
	return libp2p.ChainOptions(tls, nz)
}

// reachOptions are the libp2p options for reachability, relays and hole
// punching. Call setHost with the host built from them.
func reachOptions(hc hostConfig) (opts []libp2p.Option, setHost func(host.Host), err error) {
	// The relay finder asks this source for candidates: the configured
	// relays first, then peers that identify lists as relays. It is set
	// once the host exists (the source runs only after that).
	var hp atomic.Pointer[host.Host]
	source := func(ctx context.Context, num int) <-chan peer.AddrInfo {
		out := make(chan peer.AddrInfo, num)
		defer close(out)
		seen := make(map[peer.ID]bool)
		send := func(ai peer.AddrInfo) bool {
			if len(out) == num || seen[ai.ID] {
				return len(out) < num
			}
			seen[ai.ID] = true
			out <- ai
			return len(out) < num
		}
		for _, ai := range hc.Relays {
			if !send(ai) {
				return out
			}
		}
		p := hp.Load()
		if p == nil {
			return out
		}
		h := *p
		for _, id := range h.Network().Peers() {
			if ok, _ := h.Peerstore().SupportsProtocols(id, hopProtocol); len(ok) == 0 {
				continue
			}
			if !send(h.Peerstore().PeerInfo(id)) {
				break
			}
		}
		return out
	}
	opts = []libp2p.Option{
		// AutoNAT v1 is what decides the host's reachability (the event
		// the DHT, autorelay and the relay service follow), and it needs
		// peers that answer its dial-back requests: every node answers a
		// few, as kubo's do. AutoNAT v2 checks each address.
		libp2p.EnableNATService(),
		libp2p.AutoNATServiceRateLimit(60, 3, time.Minute),
		libp2p.EnableAutoNATv2(),
		libp2p.EnableRelay(),
		// Before punching, DCUtR tries a plain dial of the peer's
		// addresses, 5 s by default; a home advertises its router's
		// address, where that dial is dropped, so every such punch
		// waited 5 s for it (lab punch benchmark). 1 s is enough for a QUIC
		// handshake over a 300 ms round trip, and when it fails the punch
		// still dials.
		libp2p.EnableHolePunching(holepunch.DirectDialTimeout(time.Second)),
		// One candidate is enough to start reserving: a home behind a
		// NAT with a single configured relay must not wait for four.
		libp2p.EnableAutoRelayWithPeerSource(source,
			autorelay.WithMinCandidates(1),
			autorelay.WithNumRelays(2),
			autorelay.WithBootDelay(10*time.Second),
			autorelay.WithBackoff(30*time.Second),
			autorelay.WithMinInterval(10*time.Second),
		),
	}
	// Port mapping searches the LAN for a gateway; a dev node on loopback
	// has none.
	if hc.Network == "main" {
		opts = append(opts, libp2p.NATPortMap())
	}
	factory, err := announceFactory(hc.Announce, hc.NoAnnounce)
	if err != nil {
		return nil, nil, err
	}
	if factory != nil {
		opts = append(opts, libp2p.AddrsFactory(factory))
	}
	return opts, func(h host.Host) { hp.Store(&h) }, nil
}

// yamuxWindow is the receive window a yamux stream starts with: four
// 1 MiB leaves, so that a seeder keeps sending while our window updates
// are on their way (yamux starts at 256 KiB and grows a window only when
// it is used up within a few measured round trips, which on a busy
// machine's loopback it seldom is). The 1 GiB loopback fetch over TLS
// (testnet/bench.sh, this 2-core machine, runs alternated) reached 0.83
// to 0.86 of the CPU floor at 256 KiB; 0.81 to 0.88 at 1 MiB; 0.85 to
// 0.90 at 4 MiB; 0.87 to 0.89 at 8 MiB. A peer may send that much ahead
// of our reads on each stream, as go-libp2p's QUIC lets it send up to
// 10 MiB.
const yamuxWindow = 4 << 20

// yamuxTransport is go-libp2p's yamux with the initial window above.
func yamuxTransport() *yamux.Transport {
	c := *(*yamuxlib.Config)(yamux.DefaultTransport)
	c.InitialStreamWindowSize = yamuxWindow
	return (*yamux.Transport)(&c)
}

// quicAfterTCP is how long a dial gives a peer's TCP addresses before it
// tries its others (QUIC, relays).
const quicAfterTCP = 250 * time.Millisecond

// dialRanker dials a peer's direct TCP addresses first and its other
// addresses quicAfterTCP later, each group ranked as go-libp2p ranks it
// (which is QUIC first). Moving bytes costs a TCP connection far less CPU
// than a QUIC one, whose packets user space encrypts and acknowledges one
// by one: 24 dev daemons fetching one 64 MiB file at once (testnet/bench.sh)
// took 6.3 to 6.5 s and 12 CPU-seconds with this ranker, 12 to 15 s and 24
// to 28 with go-libp2p's, whose connections were QUIC; the largest peak
// RSS fell from 75-88 MiB to 69-73 MiB, QUIC's queued packets being in our
// memory where TCP's are in the kernel's. QUIC keeps the rest: peers with
// no TCP address, and hole punches, which go-libp2p dials on every address
// at once whatever the ranker says.
func dialRanker(addrs []ma.Multiaddr) []network.AddrDelay {
	var tcp, rest []ma.Multiaddr
	for _, a := range addrs {
		if directTCP(a) {
			tcp = append(tcp, a)
		} else {
			rest = append(rest, a)
		}
	}
	if len(tcp) == 0 || len(rest) == 0 {
		return swarm.DefaultDialRanker(addrs)
	}
	out := swarm.DefaultDialRanker(tcp)
	after := out[len(out)-1].Delay + quicAfterTCP
	for _, d := range swarm.DefaultDialRanker(rest) {
		d.Delay += after
		out = append(out, d)
	}
	return out
}

// directTCP reports whether a is a plain TCP address: no relay circuit,
// no websocket.
func directTCP(a ma.Multiaddr) bool {
	tcp, other := false, false
	for _, c := range a {
		switch c.Protocol().Code {
		case ma.P_TCP:
			tcp = true
		case ma.P_CIRCUIT, ma.P_WS, ma.P_WSS, ma.P_TLS:
			other = true
		}
	}
	return tcp && !other
}
