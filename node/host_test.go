package node

import (
	"context"
	"testing"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

// TestSecurityPreference: TCP connections use the secure channel the
// dialer offers first (config security), and either side still accepts
// the other.
func TestSecurityPreference(t *testing.T) {
	newHost := func(security string) host.Host {
		h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
			libp2p.Transport(tcp.NewTCPTransport), securityOptions(security), libp2p.DisableRelay())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		return h
	}
	for _, tc := range []struct {
		dialer, listener string
		want             protocol.ID
	}{
		{"", "", libp2ptls.ID},
		{SecurityTLS, SecurityNoise, libp2ptls.ID},
		{SecurityNoise, SecurityNoise, noise.ID},
		{SecurityNoise, SecurityTLS, noise.ID},
	} {
		a, b := newHost(tc.dialer), newHost(tc.listener)
		if err := a.Connect(context.Background(), peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
			t.Fatalf("%q dials %q: %v", tc.dialer, tc.listener, err)
		}
		conns := a.Network().ConnsToPeer(b.ID())
		if len(conns) == 0 {
			t.Fatalf("%q dials %q: no connection", tc.dialer, tc.listener)
		}
		if got := connSecurity(conns[0]); got != string(tc.want) {
			t.Errorf("%q dials %q: security %q, want %q", tc.dialer, tc.listener, got, tc.want)
		}
	}
}
