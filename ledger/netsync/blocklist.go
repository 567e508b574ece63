package netsync

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/myco-p2p/myco/internal/tokenbucket"
)

// Blocklist holds peers banned until a time on an injected clock. It is a
// libp2p connection gater (pass it to libp2p.ConnectionGater when building
// the host, and the same value in Config.Blocklist) and a pubsub blacklist,
// so a banned peer can neither connect nor be heard while its ban lasts.
type Blocklist struct {
	now     func() time.Time
	defBan  time.Duration
	mu      sync.Mutex
	expires map[peer.ID]time.Time
	reasons map[peer.ID]string
	// ips holds the addresses banned peers connected from, until their
	// ban ends, and a bucket of accepts for each (see InterceptAccept).
	ips       map[string]*ipBan
	throttled uint64
	// gatedBanned counts the connections of banned peers refused once
	// their handshake told us who they were: each cost us a handshake.
	gatedBanned uint64
	// quicEarly is set once ResourceManager wraps the host's resource
	// manager: QUIC connections are then throttled before their handshake
	// and InterceptAccept lets them through.
	quicEarly atomic.Bool
}

// ipBan throttles inbound connections from an address a banned peer used.
type ipBan struct {
	until  time.Time
	accept tokenbucket.Bucket
}

// While an address is marked, it may open BannedAcceptRate new connections
// a second (burst BannedAcceptBurst) before the handshake; more are dropped
// before any cryptography. Peers that share the address (a NAT, a
// loopback testnet) still connect, only not in a flood.
const (
	BannedAcceptRate  = 2
	BannedAcceptBurst = 5
)

// Ban is one banned peer.
type Ban struct {
	Peer   peer.ID
	Until  time.Time
	Reason string
}

// NewBlocklist returns an empty blocklist on the clock now; bans added
// through the pubsub Blacklist interface last defaultBan.
func NewBlocklist(now func() time.Time, defaultBan time.Duration) *Blocklist {
	if now == nil {
		now = time.Now
	}
	return &Blocklist{now: now, defBan: defaultBan, expires: make(map[peer.ID]time.Time), reasons: make(map[peer.ID]string), ips: make(map[string]*ipBan)}
}

// Ban blocks p for d from now (extending an earlier ban, never shortening it).
func (b *Blocklist) Ban(p peer.ID, d time.Duration) { b.BanFor(p, d, "") }

// BanFor is Ban with the reason shown by List.
func (b *Blocklist) BanFor(p peer.ID, d time.Duration, reason string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	until := b.now().Add(d)
	if until.After(b.expires[p]) {
		b.expires[p] = until
		if reason != "" || b.reasons[p] == "" {
			b.reasons[p] = reason
		}
	}
}

// MarkAddrs remembers the addresses banned peer p connected from, so
// InterceptAccept throttles new connections from them while p's ban lasts.
func (b *Blocklist) MarkAddrs(p peer.ID, addrs []ma.Multiaddr) {
	b.mu.Lock()
	defer b.mu.Unlock()
	until, ok := b.expires[p]
	if !ok {
		return
	}
	for _, a := range addrs {
		ip, err := manet.ToIP(a)
		if err != nil {
			continue
		}
		e := b.ips[ip.String()]
		if e == nil {
			e = &ipBan{}
			b.ips[ip.String()] = e
		}
		if until.After(e.until) {
			e.until = until
		}
	}
}

// List returns the peers banned now, soonest expiry first.
func (b *Blocklist) List() []Ban {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expireLocked()
	out := make([]Ban, 0, len(b.expires))
	for p, until := range b.expires {
		out = append(out, Ban{Peer: p, Until: until, Reason: b.reasons[p]})
	}
	slices.SortFunc(out, func(x, y Ban) int {
		if c := x.Until.Compare(y.Until); c != 0 {
			return c
		}
		return strings.Compare(string(x.Peer), string(y.Peer))
	})
	return out
}

func (b *Blocklist) expireLocked() {
	now := b.now()
	for ip, e := range b.ips {
		if !now.Before(e.until) {
			delete(b.ips, ip)
		}
	}
	for p, until := range b.expires {
		if !now.Before(until) {
			delete(b.expires, p)
			delete(b.reasons, p)
		}
	}
}

// Banned reports whether p is banned now. An expired ban is forgotten.
func (b *Blocklist) Banned(p peer.ID) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	until, ok := b.expires[p]
	if !ok {
		return false
	}
	if !b.now().Before(until) {
		delete(b.expires, p)
		delete(b.reasons, p)
		return false
	}
	return true
}

// Len returns how many peers are banned now.
func (b *Blocklist) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expireLocked()
	return len(b.expires)
}

// Add implements pubsub.Blacklist: it bans p for the default duration.
func (b *Blocklist) Add(p peer.ID) bool {
	b.Ban(p, b.defBan)
	return true
}

// Contains implements pubsub.Blacklist.
func (b *Blocklist) Contains(p peer.ID) bool { return b.Banned(p) }

// InterceptPeerDial implements connmgr.ConnectionGater: no dials to a
// banned peer.
func (b *Blocklist) InterceptPeerDial(p peer.ID) bool { return !b.Banned(p) }

// InterceptAddrDial implements connmgr.ConnectionGater.
func (b *Blocklist) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return !b.Banned(p) }

// InterceptAccept implements connmgr.ConnectionGater. The peer is not
// known before the handshake, so an inbound connection gets that far,
// except from an address a banned peer used: from there only a few a
// second do, so a banned peer reconnecting in a loop costs us no more
// than a few handshakes a second. go-libp2p calls it before the handshake
// for TCP but after it for QUIC; QUIC is throttled before its handshake
// by the resource manager ResourceManager returns, once that is in place.
func (b *Blocklist) InterceptAccept(c network.ConnMultiaddrs) bool {
	if b.quicEarly.Load() && isQUIC(c.RemoteMultiaddr()) {
		return true
	}
	return b.allowInbound(c.RemoteMultiaddr())
}

// allowInbound takes one token from the accept bucket of the address a
// new inbound connection comes from, if a banned peer used that address,
// and reports whether the connection may go on to its handshake.
func (b *Blocklist) allowInbound(remote ma.Multiaddr) bool {
	ip, err := manet.ToIP(remote)
	if err != nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	key := ip.String()
	e := b.ips[key]
	if e == nil {
		return true
	}
	now := b.now()
	if !now.Before(e.until) {
		delete(b.ips, key)
		return true
	}
	if e.accept.Take(now, 1, BannedAcceptRate, BannedAcceptBurst) > 0 {
		e.accept.Give(1)
		b.throttled++
		return false
	}
	return true
}

func isQUIC(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_QUIC_V1)
	return err == nil
}

// errThrottled is the resource manager's refusal of a QUIC connection
// from a banned peer's address over its accept budget.
var errThrottled = errors.New("inbound connections from a banned peer's address are throttled")

// ResourceManager wraps the host's resource manager so that an inbound
// QUIC connection from an address a banned peer used is throttled, like a
// TCP one in InterceptAccept, before its handshake: go-libp2p opens an
// inbound QUIC connection's resource scope when the first packet arrives,
// and calls the gater's InterceptAccept only once the TLS handshake is
// done. Without it a banned peer redialling over QUIC costs us a full
// handshake per attempt. Pass the result to libp2p.ResourceManager.
func (b *Blocklist) ResourceManager(rm network.ResourceManager) network.ResourceManager {
	b.quicEarly.Store(true)
	return &gatedResources{ResourceManager: rm, bl: b}
}

type gatedResources struct {
	network.ResourceManager
	bl *Blocklist
}

func (g *gatedResources) OpenConnection(dir network.Direction, usefd bool, remote ma.Multiaddr) (network.ConnManagementScope, error) {
	if dir == network.DirInbound && remote != nil && isQUIC(remote) && !g.bl.allowInbound(remote) {
		return nil, errThrottled
	}
	return g.ResourceManager.OpenConnection(dir, usefd, remote)
}

// Throttled counts the inbound connections dropped before the handshake
// because they came from a banned peer's address too often.
func (b *Blocklist) Throttled() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.throttled
}

// InterceptSecured implements connmgr.ConnectionGater: a banned peer's
// connection is refused once its identity is known.
func (b *Blocklist) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	if !b.Banned(p) {
		return true
	}
	b.mu.Lock()
	b.gatedBanned++
	b.mu.Unlock()
	return false
}

// GatedBanned counts the connections of banned peers refused after
// their handshake: what banned peers cost us in handshakes.
func (b *Blocklist) GatedBanned() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.gatedBanned
}

// InterceptUpgraded implements connmgr.ConnectionGater.
func (b *Blocklist) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) {
	return true, 0
}
