package node

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/host/relaysvc"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"

	"github.com/myco-p2p/myco/swarm"
)

// Relay service defaults; see RelayConfig.
const (
	defaultCircuitData     = 128 << 10
	defaultCircuitDuration = 2 * time.Minute
	// A relay that carries data limits a circuit by its rate cap and its
	// duration, hardly by bytes.
	defaultCarryData     = 1 << 40
	defaultCarryDuration = time.Hour
	defaultCarryRate     = 1_000_000
)

// carryMinData is the smallest circuit data limit for which a relayed
// connection counts as one that carries file data: a relay that grants
// less (128 KiB by default) means its circuits for control messages and
// hole punching only.
const carryMinData = 64 << 20

// relayService is the circuit relay v2 service a node offers while AutoNAT
// finds it public.
type relayService struct {
	res relayv2.Resources
	// rate caps the bytes per second forwarded through all circuits
	// together; 0 means no cap.
	rate int64
}

// newRelayService reads the relay service's settings from rc; it returns
// nil when the service is off for network netw.
func newRelayService(rc RelayConfig, netw string) (*relayService, error) {
	if !rc.ServiceEnabled(netw) {
		return nil, nil
	}
	res := relayv2.DefaultResources()
	if rc.MaxReservations > 0 {
		res.MaxReservations = rc.MaxReservations
	}
	if rc.MaxCircuits > 0 {
		res.MaxCircuits = rc.MaxCircuits
	}
	data, err := ParseSize(rc.CircuitData)
	if err != nil {
		return nil, fmt.Errorf("relay circuit_data: %w", err)
	}
	dur := defaultCircuitDuration
	if rc.CarryData {
		dur = defaultCarryDuration
	}
	if rc.CircuitDuration != "" {
		if dur, err = time.ParseDuration(rc.CircuitDuration); err != nil {
			return nil, fmt.Errorf("relay circuit_duration: %w", err)
		}
	}
	var rate int64
	switch {
	case data != 0:
	case rc.CarryData:
		data = defaultCarryData
	default:
		data = defaultCircuitData
	}
	if rc.CarryData {
		rate = defaultCarryRate
		if rc.CarryRate != "" {
			if rate, err = parseLimit(rc.CarryRate); err != nil {
				return nil, fmt.Errorf("relay carry_rate: %w", err)
			}
		}
	}
	// Circuits stay limited (they carry a limit even when it is large), so
	// libp2p opens no stream over them unless asked: a fetch waits for a
	// hole punch first and takes the relay only if none comes.
	res.Limit = &relayv2.RelayLimit{Duration: dur, Data: data}
	return &relayService{res: res, rate: rate}, nil
}

// start runs the service on h while h is public (libp2p's relay manager
// follows the reachability events); Close the result to stop it.
func (s *relayService) start(h host.Host) *relaysvc.RelayManager {
	if s.rate > 0 {
		h = &cappedHost{Host: h, lim: swarm.NewLimiter(s.rate, time.Now(), nil)}
	}
	return relaysvc.NewRelayManager(h, relayv2.WithResources(s.res))
}

// cappedHost is the host the relay service sees when it carries data: the
// streams it reads from (the hop streams from sources, the stop streams to
// destinations) wait on one limiter, so all circuits together forward at
// most its rate. The relay copies each direction by reading one stream and
// writing the other, so capping reads caps both directions.
type cappedHost struct {
	host.Host
	lim *swarm.Limiter
}

func (h *cappedHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	h.Host.SetStreamHandler(pid, func(s network.Stream) { handler(&cappedStream{Stream: s, lim: h.lim}) })
}

func (h *cappedHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	s, err := h.Host.NewStream(ctx, p, pids...)
	if err != nil {
		return nil, err
	}
	return &cappedStream{Stream: s, lim: h.lim}, nil
}

// cappedStream pays for what it has read before returning it. A reset
// while it waits shows on the next read.
type cappedStream struct {
	network.Stream
	lim *swarm.Limiter
}

func (s *cappedStream) Read(p []byte) (int, error) {
	n, err := s.Stream.Read(p)
	if n > 0 {
		// The background context: the wait is bounded by the rate and n
		// (at most the relay's copy buffer).
		_ = s.lim.Wait(context.Background(), n)
	}
	return n, err
}

// carriesData says whether h's connection to p goes through a relay whose
// circuits allow file data (relay.carry_data there): limited, with a data
// limit of at least carryMinData.
func carriesData(h host.Host, p peer.ID) bool {
	for _, c := range h.Network().ConnsToPeer(p) {
		st := c.Stat()
		if !st.Limited {
			continue
		}
		if d, ok := st.Extra[client.StatLimitData].(uint64); ok && d >= carryMinData {
			return true
		}
	}
	return false
}
