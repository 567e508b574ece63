package attack

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"
)

// NewHost returns the attacker's own libp2p host: a fresh identity,
// listening on TCP on 127.0.0.1 only, with no resource limits of its own
// (the attacker does not protect itself). The caller closes it.
func NewHost() (host.Host, error) {
	h, err := libp2p.New(
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.DisableRelay(),
	)
	if err != nil {
		return nil, fmt.Errorf("attacker host: %w", err)
	}
	return h, nil
}

// Connect dials a victim's multiaddr (with /p2p/ID) and returns its id.
// After a ban, the victim's connection gater refuses it.
func Connect(ctx context.Context, h host.Host, addr string) (peer.ID, error) {
	m, err := ma.NewMultiaddr(addr)
	if err != nil {
		return "", err
	}
	ai, err := peer.AddrInfoFromP2pAddr(m)
	if err != nil {
		return "", err
	}
	if sw, ok := h.Network().(*swarm.Swarm); ok {
		sw.Backoff().Clear(ai.ID) // a refused dial is not remembered
	}
	if err := h.Connect(ctx, *ai); err != nil {
		return ai.ID, fmt.Errorf("connect to %s: %w", ai.ID, err)
	}
	// The victim's gater sees who we are only once the handshake is
	// done, and then closes the connection: one counts only if the victim
	// answers a request on it.
	str, err := h.NewStream(network.WithNoDial(ctx, "probe"), ai.ID, ChainProtocol)
	if err != nil {
		return ai.ID, fmt.Errorf("connect to %s: %w", ai.ID, err)
	}
	defer str.Close()
	str.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := str.Write(frame(typeGetHeaders, 0, nil)); err != nil {
		str.Reset()
		return ai.ID, fmt.Errorf("connect to %s: %w", ai.ID, err)
	}
	str.CloseWrite()
	if _, err := readFrame(str); err != nil {
		str.Reset()
		return ai.ID, fmt.Errorf("connect to %s: the victim does not answer: %w", ai.ID, err)
	}
	return ai.ID, nil
}
