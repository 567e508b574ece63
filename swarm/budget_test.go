package swarm

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// A peer within its burst is served at once; past it each message waits
// for its tokens; one that stays in debt past MaxDelay is refused (and
// refunded); reconnecting does not reset that, a quiet spell does.
func TestBudgetSlowsThenRefuses(t *testing.T) {
	b := newBudgets(Budget{MessagesPerSecond: 100, MessageBurst: 10, BytesPerSecond: 1 << 20, ByteBurst: 1 << 20, MaxDelay: time.Second})
	p := peer.ID("flooder")
	now := time.Unix(1000, 0)
	for i := range 10 {
		if w, refuse := b.charge(p, now, 8); w != 0 || refuse {
			t.Fatalf("message %d of the burst: wait %s, refused %v", i, w, refuse)
		}
	}
	// The flooder sends as fast as it is read: each message waits 10 ms.
	var refusedAt time.Duration
	for i := range 200 {
		w, refuse := b.charge(p, now, 8)
		if refuse {
			refusedAt = now.Sub(time.Unix(1000, 0))
			break
		}
		if w <= 0 || w > 10*time.Millisecond+time.Microsecond {
			t.Fatalf("message %d past the burst waits %s; want about 10 ms", i, w)
		}
		now = now.Add(w)
	}
	if refusedAt == 0 || refusedAt > time.Second {
		t.Fatalf("refused after %s in debt; want just under MaxDelay (1 s)", refusedAt)
	}
	if st := (BudgetStats{Messages: b.messages.Load(), Delayed: b.delayed.Load(), Refused: b.refused.Load()}); st.Refused != 1 || st.Delayed == 0 {
		t.Fatalf("counters %+v", st)
	}
	// It reconnects 50 ms later: the handshake finds a few tokens, the
	// flood that follows is refused at once.
	now = now.Add(50 * time.Millisecond)
	if _, refuse := b.charge(p, now, 8); refuse {
		t.Fatal("the handshake after a pause was refused")
	}
	refused := false
	for range 10 {
		if _, refuse := b.charge(p, now, 8); refuse {
			refused = true
			break
		}
	}
	if !refused {
		t.Fatal("the flood after a reconnect was not refused")
	}
	// Quiet until the buckets are half full: over budget no more.
	now = now.Add(60 * time.Millisecond)
	for range 5 {
		if w, refuse := b.charge(p, now, 8); w != 0 || refuse {
			t.Fatalf("after a quiet spell: wait %s, refused %v", w, refuse)
		}
	}
	if w, refuse := b.charge(peer.ID("other"), now, 8); w != 0 || refuse {
		t.Fatal("another peer paid for the flooder")
	}
}

// Bytes are a budget of their own: three bitfields of the largest root
// fit the default burst at once, a stream of them is slowed.
func TestBudgetBytes(t *testing.T) {
	b := newBudgets(Budget{})
	p := peer.ID("p")
	now := time.Unix(1000, 0)
	big := MaxLeaves/8 + 8
	for i := range 3 {
		if w, refuse := b.charge(p, now, big); w != 0 || refuse {
			t.Fatalf("bitfield %d: wait %s, refused %v", i, w, refuse)
		}
	}
	b.charge(p, now, big)
	if w, refuse := b.charge(p, now, big); w == 0 || refuse {
		t.Fatalf("a fifth bitfield at once: wait %s, refused %v; want a wait", w, refuse)
	}
}

// Peers idle long enough for full buckets are forgotten.
func TestBudgetSweep(t *testing.T) {
	b := newBudgets(Budget{})
	now := time.Unix(1000, 0)
	b.charge(peer.ID("p"), now, 8)
	b.sweep(now.Add(time.Second))
	if len(b.peers) != 1 {
		t.Fatal("a recent peer was forgotten")
	}
	b.sweep(now.Add(time.Hour))
	if len(b.peers) != 0 {
		t.Fatal("an idle peer was kept")
	}
}
