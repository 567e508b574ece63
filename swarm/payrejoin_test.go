package swarm

import (
	"context"
	"errors"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

// TestPayBookRejoinOwesWhatItLeft: a paying peer whose streams all ended
// with a debt (it crashed after its last voucher) opens a paying stream
// again. The debt is kept, so reconnecting never buys payCredit again;
// the handshake tells the peer what it owes (owed), and once it pays that
// the new stream gets the full credit. While another of its streams
// lives, nothing is told (that stream's payer pays its own debt).
func TestPayBookRejoinOwesWhatItLeft(t *testing.T) {
	const price, leaf = 1000, 1 << 20
	b := newPayBook(price)
	p := peer.ID("payer")
	ctx := context.Background()
	chargeAll := func(what string) int {
		t.Helper()
		n := 0
		for ; ; n++ {
			err := b.charge(ctx, WallClock{}, p, leaf, 0)
			if errors.Is(err, errUnpaid) {
				return n
			}
			if err != nil {
				t.Fatalf("%s: leaf %d: %v", what, n, err)
			}
		}
	}
	b.join(p)
	if n := chargeAll("first stream"); n != payCredit/leaf {
		t.Fatalf("first stream served %d leaves ahead; want %d", n, payCredit/leaf)
	}
	b.credit(p, costOf(payStep, price)) // one voucher, then the crash
	if n := chargeAll("after a voucher"); n != payStep/leaf {
		t.Fatalf("after a voucher: %d leaves more; want %d", n, payStep/leaf)
	}
	// A second paying stream while the first lives is told of no debt
	// and served nothing more.
	if o := b.owed(p); o != 0 {
		t.Fatalf("owed %d told while a paying stream lives", o)
	}
	b.join(p)
	if n := chargeAll("second stream beside the first"); n != 0 {
		t.Fatalf("a stream beside one that owes was served %d leaves", n)
	}
	b.leave(p)
	b.leave(p)
	if b.accts[p] == nil {
		t.Fatal("the account of a peer that owes was dropped when it left")
	}

	// Back with no stream: told what it owes, served nothing until it
	// pays that, then the full credit again.
	owed := b.owed(p)
	if want := costOf(payCredit+payStep, price) - costOf(payStep, price); owed != want {
		t.Fatalf("owed %d after the crash; want %d", owed, want)
	}
	b.join(p)
	if n := chargeAll("back, before paying"); n != 0 {
		t.Fatalf("back after the crash: served %d leaves before paying what it owed", n)
	}
	b.credit(p, owed)
	if n := chargeAll("back, after paying"); n != payCredit/leaf {
		t.Fatalf("back after paying: served %d leaves ahead; want %d", n, payCredit/leaf)
	}
	e := Earnings{Charged: b.charged, Paid: b.paid}
	if e.Paid != costOf(payStep, price)+owed || e.Charged != 2*payCredit+payStep {
		t.Errorf("earnings %+v: want every leaf sent charged and the two payments", e)
	}
}

// TestPeerPayerPaysWhatItOwesFirst: a payer told of a debt pays it with
// its first voucher, whatever its size, and believes at most maxOwed.
func TestPeerPayerPaysWhatItOwesFirst(t *testing.T) {
	const price = 1000
	p := newPeerPayer(price, []byte("payee"), 1500)
	select {
	case <-p.recv:
	default:
		t.Fatal("a debt did not wake the pay loop")
	}
	if p.owed() != 1500 {
		t.Fatalf("owes %d at start; want 1500", p.owed())
	}
	p.received(1 << 20)
	if p.owed() != 2500 {
		t.Fatalf("owes %d after a MiB; want 2500", p.owed())
	}
	if q := newPeerPayer(price, []byte("payee"), 1<<40); q.owed() != maxOwed(price) {
		t.Fatalf("believed a debt of %d; at most %d", q.owed(), maxOwed(price))
	}
	if q := newPeerPayer(price, []byte("payee"), 0); len(q.recv) != 0 {
		t.Fatal("no debt, yet the pay loop was woken")
	}
}
