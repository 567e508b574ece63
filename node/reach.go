package node

import (
	"fmt"
	"sync"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"
)

// reachState is what the host's event bus last said about this node's
// reachability and its NAT.
type reachState struct {
	mu    sync.Mutex
	reach network.Reachability
	nat   map[network.NATTransportProtocol]network.NATDeviceType
}

func (r *reachState) apply(e any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e := e.(type) {
	case event.EvtLocalReachabilityChanged:
		r.reach = e.Reachability
	case event.EvtNATDeviceTypeChanged:
		if r.nat == nil {
			r.nat = make(map[network.NATTransportProtocol]network.NATDeviceType)
		}
		r.nat[e.TransportProtocol] = e.NatDeviceType
	}
}

// get returns the reachability ("public", "private" or "unknown") and, for
// a private node, the NAT kind per transport where libp2p has found it
// ("cone" or "symmetric").
func (r *reachState) get() (string, map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var reach string
	switch r.reach {
	case network.ReachabilityPublic:
		reach = "public"
	case network.ReachabilityPrivate:
		reach = "private"
	default:
		return "unknown", nil
	}
	if r.reach != network.ReachabilityPrivate || len(r.nat) == 0 {
		return reach, nil
	}
	nat := make(map[string]string)
	for proto, kind := range r.nat {
		name := "unknown"
		switch kind {
		case network.NATDeviceTypeEndpointIndependent:
			name = "cone"
		case network.NATDeviceTypeEndpointDependent:
			name = "symmetric"
		}
		switch proto {
		case network.NATTransportUDP:
			nat["udp"] = name
		case network.NATTransportTCP:
			nat["tcp"] = name
		}
	}
	return reach, nat
}

// startReachWatch follows the host's reachability and NAT events until
// the node stops. The emitters are stateful, so the last event before the
// subscription arrives too.
func (n *Node) startReachWatch() error {
	sub, err := n.host.EventBus().Subscribe([]any{
		new(event.EvtLocalReachabilityChanged),
		new(event.EvtNATDeviceTypeChanged),
	})
	if err != nil {
		return fmt.Errorf("watch reachability: %w", err)
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer sub.Close()
		for {
			select {
			case <-n.ctx.Done():
				return
			case e, ok := <-sub.Out():
				if !ok {
					return
				}
				n.reach.apply(e)
				if e, ok := e.(event.EvtLocalReachabilityChanged); ok {
					n.log.Info("reachability", "reachability", e.Reachability.String())
				}
			}
		}
	}()
	return nil
}

// connKind says how a connection reaches its peer: relayed (through a
// circuit relay, limited or not) or direct, and over which transport.
func connKind(c network.Conn) (relayed bool, transport string) {
	remote := c.RemoteMultiaddr()
	relayed = c.Stat().Limited || isCircuit(remote)
	if relayed {
		return true, "p2p-circuit"
	}
	var last string
	for _, comp := range remote {
		switch comp.Protocol().Code {
		case ma.P_TCP, ma.P_UDP:
			last = comp.Protocol().Name
		case ma.P_QUIC_V1, ma.P_QUIC, ma.P_WEBTRANSPORT, ma.P_WEBRTC_DIRECT, ma.P_WEBRTC, ma.P_WS, ma.P_WSS:
			last = comp.Protocol().Name
		}
	}
	if last == "" {
		last = "unknown"
	}
	return false, last
}
