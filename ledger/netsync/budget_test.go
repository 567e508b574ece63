package netsync

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/myco-p2p/myco/ledger"
)

func TestBudgetBuckets(t *testing.T) {
	start := time.Unix(1_000_000, 0)
	b := newBudgets(Budget{RequestsPerSecond: 10, RequestBurst: 2, MaxDelay: 150 * time.Millisecond})
	p := peer.ID("p")
	steps := []struct {
		at   time.Duration
		want verdict
		wait time.Duration
	}{
		{0, serveNow, 0},
		{0, serveNow, 0},
		{0, serveLater, 100 * time.Millisecond}, // one token short: 1/10 s
		{0, refuse, 200 * time.Millisecond},     // two short: past MaxDelay, refunded
		{0, refuse, 200 * time.Millisecond},     // the refusal cost nothing
		{300 * time.Millisecond, serveNow, 0},   // 3 tokens back, debt of 1 paid
		{time.Hour, serveNow, 0},                // full again, never above burst
		{time.Hour, serveNow, 0},
		{time.Hour, serveLater, 100 * time.Millisecond},
	}
	for i, s := range steps {
		v, wait := b.request(p, start.Add(s.at))
		if v != s.want || wait != s.wait {
			t.Fatalf("step %d: verdict %d wait %s, want %d %s", i, v, wait, s.want, s.wait)
		}
	}
	// Another peer has its own buckets.
	if v, _ := b.request(peer.ID("q"), start.Add(time.Hour)); v != serveNow {
		t.Fatal("a second peer shares the first one's budget")
	}
	// Idle peers are forgotten once their buckets would be full.
	b.sweep(start.Add(2 * time.Hour))
	if len(b.peers) != 0 {
		t.Fatalf("%d peers remembered after they went idle", len(b.peers))
	}
}

func TestBudgetResponse(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	b := newBudgets(Budget{HeadersPerSecond: 1000, HeaderBurst: 2000, BytesPerSecond: 1 << 20, ByteBurst: 1 << 20})
	p := peer.ID("p")
	if v, _ := b.response(p, now, 2000, 200_000); v != serveNow {
		t.Fatal("a full first response was not served")
	}
	// 2000 more headers: 2 s of tokens, within the default 5 s delay.
	if v, wait := b.response(p, now, 2000, 200_000); v != serveLater || wait != 2*time.Second {
		t.Fatalf("second response: verdict %d wait %s", v, wait)
	}
	// Bytes alone can run a peer dry too.
	if v, _ := b.response(peer.ID("q"), now, 0, 10<<20); v != refuse {
		t.Fatal("a 10 MiB response within a 1 MiB/s budget was not refused")
	}
}

// A peer flooding get-headers from genesis is answered within its budget,
// then more slowly, then refused, and banned; the flood costs it points,
// not us bytes.
func TestHeaderFloodBanned(t *testing.T) {
	const height = 2000
	clock := newClock(afterFixture(t, height))
	mn, nodes := newNet(t, 1, netOpts{clock: clock, preload: height, cfg: func(_ int, c *Config) {
		// The clock stands still, so the buckets never refill: one full
		// response fits the burst, the next waits 2000/1e6 s = 2 ms, the
		// one after 4 ms, past MaxDelay.
		c.Budget = Budget{HeadersPerSecond: 1e6, HeaderBurst: MaxHeaders, MaxDelay: 3 * time.Millisecond}
	}})
	victim := nodes[0]
	attacker, err := mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mn.LinkPeers(attacker.ID(), victim.h.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := mn.ConnectPeers(attacker.ID(), victim.h.ID()); err != nil {
		t.Fatal(err)
	}
	genesis := []ledger.Hash{ledger.NetworkDev.Params().Genesis().Hash()}
	ctx := context.Background()
	answered, sent := 0, 0
	for sent < 100 && victim.svc.Stats().Bans == 0 {
		sent++
		str, err := attacker.NewStream(network.WithNoDial(ctx, "flood"), victim.h.ID(), ChainProtocol)
		if err != nil {
			break // the victim closed the connection: banned
		}
		if err := writeFrame(str, &message{Type: msgGetHeaders, Hashes: genesis}); err != nil {
			str.Reset()
			continue
		}
		str.CloseWrite()
		resp, err := readFrame(str, maxMessageSize(ledger.NetworkDev.Params().MaxBlockSize))
		str.Close()
		if err == nil && len(resp.Headers) == MaxHeaders {
			answered++
		}
	}
	select {
	case p := <-victim.bans:
		if p != attacker.ID() {
			t.Fatalf("banned %s, want the attacker", p)
		}
	case <-time.After(hangGuard):
		t.Fatalf("the flooder was not banned after %d requests; stats %+v", sent, victim.svc.Stats())
	}
	st := victim.svc.Stats()
	if answered != 2 || st.RequestsDelayed != 1 {
		t.Errorf("answered %d full responses, %d delayed: want 2 and 1", answered, st.RequestsDelayed)
	}
	// 10 points a refusal, banned at 100.
	if st.RequestsRefused != 10 || st.Bans != 1 {
		t.Errorf("refused %d requests, %d bans: want 10 and 1", st.RequestsRefused, st.Bans)
	}
	bans := victim.svc.Blocklist().List()
	if len(bans) != 1 || bans[0].Peer != attacker.ID() || bans[0].Reason != errOverBudget.Error() {
		t.Errorf("blocklist %+v: want the attacker, over budget", bans)
	}
	if !waitDisconnected(victim.h, attacker.ID()) {
		t.Error("the banned flooder is still connected")
	}
}

type connAddrs struct{ remote ma.Multiaddr }

func (c connAddrs) LocalMultiaddr() ma.Multiaddr  { return nil }
func (c connAddrs) RemoteMultiaddr() ma.Multiaddr { return c.remote }

// After a ban, new connections from the banned peer's address are
// throttled before the handshake; other addresses are not, and the
// throttle ends with the ban.
func TestBlocklistThrottlesBannedAddress(t *testing.T) {
	clock := newClock(time.Unix(1000, 0))
	b := NewBlocklist(clock.Now, time.Minute)
	p := peer.ID("peer")
	from := ma.StringCast("/ip4/192.0.2.7/tcp/4040")
	b.BanFor(p, time.Minute, "test")
	b.MarkAddrs(p, []ma.Multiaddr{from})
	accepted := 0
	for range 100 {
		if b.InterceptAccept(connAddrs{ma.StringCast("/ip4/192.0.2.7/tcp/5555")}) {
			accepted++
		}
	}
	if accepted != BannedAcceptBurst || b.Throttled() != 100-BannedAcceptBurst {
		t.Fatalf("%d of 100 reconnects accepted (%d throttled); want the burst, %d", accepted, b.Throttled(), BannedAcceptBurst)
	}
	if !b.InterceptAccept(connAddrs{ma.StringCast("/ip4/198.51.100.1/tcp/1")}) {
		t.Fatal("another address was throttled")
	}
	clock.Set(time.Unix(1000, 0).Add(time.Second)) // two more tokens
	if !b.InterceptAccept(connAddrs{from}) {
		t.Fatal("no connection accepted a second later")
	}
	clock.Set(time.Unix(1000, 0).Add(time.Minute))
	for range 10 {
		if !b.InterceptAccept(connAddrs{from}) {
			t.Fatal("throttled after the ban ended")
		}
	}
}

// With the resource manager wrapped, a QUIC connection from a banned
// peer's address is throttled when its first packet opens its scope,
// before the handshake, and not charged again by InterceptAccept after
// it; TCP and QUIC from one address share one bucket. A banned peer that
// gets through its handshake is refused and counted.
func TestBlocklistThrottlesQUICBeforeHandshake(t *testing.T) {
	clock := newClock(time.Unix(1000, 0))
	b := NewBlocklist(clock.Now, time.Minute)
	rm := b.ResourceManager(&network.NullResourceManager{})
	p := peer.ID("peer")
	b.BanFor(p, time.Minute, "test")
	b.MarkAddrs(p, []ma.Multiaddr{ma.StringCast("/ip4/192.0.2.7/tcp/4040")})
	quicAddr := ma.StringCast("/ip4/192.0.2.7/udp/4041/quic-v1")
	opened := 0
	for range 100 {
		if _, err := rm.OpenConnection(network.DirInbound, false, quicAddr); err == nil {
			opened++
			if !b.InterceptAccept(connAddrs{quicAddr}) {
				t.Fatal("a QUIC connection let through before its handshake was throttled after it")
			}
		}
	}
	if opened != BannedAcceptBurst {
		t.Fatalf("%d of 100 QUIC reconnects got to the handshake; want the burst, %d", opened, BannedAcceptBurst)
	}
	if b.InterceptAccept(connAddrs{ma.StringCast("/ip4/192.0.2.7/tcp/5555")}) {
		t.Fatal("TCP from the address got a token the QUIC connections had taken")
	}
	if _, err := rm.OpenConnection(network.DirOutbound, false, quicAddr); err != nil {
		t.Fatalf("an outbound connection was throttled: %v", err)
	}
	if _, err := rm.OpenConnection(network.DirInbound, false, ma.StringCast("/ip4/198.51.100.1/udp/1/quic-v1")); err != nil {
		t.Fatalf("another address was throttled: %v", err)
	}
	if b.InterceptSecured(network.DirInbound, p, connAddrs{quicAddr}) || b.GatedBanned() != 1 {
		t.Fatalf("the banned peer's handshake was let through or not counted (%d)", b.GatedBanned())
	}
	if !b.InterceptSecured(network.DirInbound, peer.ID("other"), connAddrs{quicAddr}) || b.GatedBanned() != 1 {
		t.Fatal("another peer was refused after its handshake")
	}
}
