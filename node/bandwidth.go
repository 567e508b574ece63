package node

import (
	"context"
	"net/http"
	"sort"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Bandwidth per protocol (`myco stats bw`). The node's own protocols (the
// DHT, the swarm, ledger sync) get the host through countingHost, which
// counts the bytes of every stream they open or accept, per protocol, in a
// libp2p BandwidthCounter (totals, and rates smoothed over a few seconds
// as libp2p's own meters do). libp2p's internal protocols (identify,
// AutoNAT, relay, hole punching, ping) do not go through it and are not
// counted: the figures are myco's traffic.

// countingHost is a host whose stream handlers and new streams count
// their bytes in bw.
type countingHost struct {
	host.Host
	bw *metrics.BandwidthCounter
}

func (h *countingHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	h.Host.SetStreamHandler(pid, func(s network.Stream) { handler(h.count(s, pid)) })
}

func (h *countingHost) SetStreamHandlerMatch(pid protocol.ID, match func(protocol.ID) bool, handler network.StreamHandler) {
	h.Host.SetStreamHandlerMatch(pid, match, func(s network.Stream) { handler(h.count(s, s.Protocol())) })
}

func (h *countingHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	s, err := h.Host.NewStream(ctx, p, pids...)
	if err != nil {
		return nil, err
	}
	pid := s.Protocol()
	if pid == "" && len(pids) == 1 {
		pid = pids[0]
	}
	return h.count(s, pid), nil
}

func (h *countingHost) count(s network.Stream, pid protocol.ID) network.Stream {
	return &countingStream{Stream: s, bw: h.bw, pid: pid, peer: s.Conn().RemotePeer()}
}

// countingStream counts what is read from and written to a stream.
type countingStream struct {
	network.Stream
	bw   *metrics.BandwidthCounter
	pid  protocol.ID
	peer peer.ID
}

func (s *countingStream) Read(p []byte) (int, error) {
	n, err := s.Stream.Read(p)
	if n > 0 {
		s.bw.LogRecvMessage(int64(n))
		s.bw.LogRecvMessageStream(int64(n), s.pid, s.peer)
	}
	return n, err
}

func (s *countingStream) Write(p []byte) (int, error) {
	n, err := s.Stream.Write(p)
	if n > 0 {
		s.bw.LogSentMessage(int64(n))
		s.bw.LogSentMessageStream(int64(n), s.pid, s.peer)
	}
	return n, err
}

// BandwidthStats is one line of `myco stats bw`: bytes in total and the
// current rates in bytes per second, received (in) and sent (out).
type BandwidthStats struct {
	Protocol string  `json:"protocol,omitempty"`
	TotalIn  int64   `json:"total_in"`
	TotalOut int64   `json:"total_out"`
	RateIn   float64 `json:"rate_in"`
	RateOut  float64 `json:"rate_out"`
}

// BandwidthJSON is GET /api/v0/stats/bw.
type BandwidthJSON struct {
	Total     BandwidthStats   `json:"total"`
	Protocols []BandwidthStats `json:"protocols"`
}

func bandwidthStats(pid string, s metrics.Stats) BandwidthStats {
	return BandwidthStats{Protocol: pid, TotalIn: s.TotalIn, TotalOut: s.TotalOut, RateIn: s.RateIn, RateOut: s.RateOut}
}

// Bandwidth reports the bytes of the node's protocols since it started,
// per protocol (sorted by name) and in total.
func (n *Node) Bandwidth() BandwidthJSON {
	out := BandwidthJSON{Total: bandwidthStats("", n.bw.GetBandwidthTotals()), Protocols: []BandwidthStats{}}
	for pid, st := range n.bw.GetBandwidthByProtocol() {
		out.Protocols = append(out.Protocols, bandwidthStats(string(pid), st))
	}
	sort.Slice(out.Protocols, func(i, j int) bool { return out.Protocols[i].Protocol < out.Protocols[j].Protocol })
	return out
}

// Bandwidth asks the daemon for its bandwidth per protocol.
func (c *Client) Bandwidth(ctx context.Context) (BandwidthJSON, error) {
	var out BandwidthJSON
	return out, c.Do(ctx, http.MethodGet, "/api/v0/stats/bw", nil, &out)
}
