package node

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"
)

func addrs(t *testing.T, ss ...string) []ma.Multiaddr {
	t.Helper()
	out := make([]ma.Multiaddr, len(ss))
	for i, s := range ss {
		out[i] = ma.StringCast(s)
	}
	return out
}

func delays(ds []network.AddrDelay) map[string]time.Duration {
	m := make(map[string]time.Duration, len(ds))
	for _, d := range ds {
		m[d.Addr.String()] = d.Delay
	}
	return m
}

// TestDialRankerTCPFirst: a peer's TCP addresses are dialled first and its
// QUIC and relay addresses quicAfterTCP after the last of them; a peer
// with one kind only is ranked as go-libp2p ranks it.
func TestDialRankerTCPFirst(t *testing.T) {
	const (
		tcp4    = "/ip4/1.2.3.4/tcp/4040"
		tcp6    = "/ip6/2001:db8::1/tcp/4040"
		quic4   = "/ip4/1.2.3.4/udp/4040/quic-v1"
		lanTCP  = "/ip4/192.168.1.2/tcp/4040"
		lanQUIC = "/ip4/192.168.1.2/udp/4040/quic-v1"
		relay   = "/ip4/5.6.7.8/tcp/4040/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo/p2p-circuit"
		ws      = "/ip4/1.2.3.4/tcp/4041/ws"
	)
	in := addrs(t, quic4, relay, tcp4, tcp6, lanQUIC, lanTCP, ws)
	got := delays(dialRanker(in))
	if len(got) != len(in) {
		t.Fatalf("ranked %d of %d addresses: %v", len(got), len(in), got)
	}
	var lastTCP time.Duration
	for _, a := range []string{tcp4, tcp6, lanTCP} {
		lastTCP = max(lastTCP, got[a])
	}
	if got[tcp6] != 0 && got[tcp4] != 0 {
		t.Errorf("no TCP address dialled at once: %v", got)
	}
	for _, a := range []string{quic4, lanQUIC, relay, ws} {
		if got[a] < lastTCP+quicAfterTCP {
			t.Errorf("%s dialled after %v, before the TCP addresses had %v (last TCP at %v)", a, got[a], quicAfterTCP, lastTCP)
		}
	}
	if got[relay] <= got[quic4] {
		t.Errorf("the relay (%v) is not dialled after the direct QUIC address (%v)", got[relay], got[quic4])
	}

	for _, only := range [][]string{{quic4, lanQUIC, relay}, {tcp4, lanTCP}} {
		in := addrs(t, only...)
		want, got := delays(swarm.DefaultDialRanker(in)), delays(dialRanker(in))
		for a, d := range want {
			if got[a] != d {
				t.Errorf("%v: %s at %v, go-libp2p ranks it at %v", only, a, got[a], d)
			}
		}
	}
}
