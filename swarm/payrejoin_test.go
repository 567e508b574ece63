package swarm

import (
	"context"
	"errors"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

// TestPayBookRejoinStartsFromWhatWasPaid: a paying peer whose streams all
// ended with a debt (it crashed after its last voucher) opens a paying
// stream again. Its payer side counts from zero on the new stream and
// pays after one payStep, so the new stream gets the full credit again:
// the old debt is written off rather than holding the peer short of its
// first payment. While another of its streams lives, nothing is written
// off (that stream's payer still pays it).
func TestPayBookRejoinStartsFromWhatWasPaid(t *testing.T) {
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
	// A second paying stream while the first lives keeps the debt.
	b.join(p)
	if n := chargeAll("second stream beside the first"); n != 0 {
		t.Fatalf("a stream beside one that owes was served %d leaves", n)
	}
	b.leave(p)
	b.leave(p)
	if b.accts[p] == nil {
		t.Fatal("the account of a peer that owes was dropped when it left")
	}

	// Back with no stream: the debt is written off.
	b.join(p)
	if n := chargeAll("back after the crash"); n != payCredit/leaf {
		t.Fatalf("back after the crash: served %d leaves ahead; want %d", n, payCredit/leaf)
	}
	e := Earnings{Charged: b.charged, Paid: b.paid}
	if e.Paid != costOf(payStep, price) || e.Charged != 2*payCredit+payStep {
		t.Errorf("earnings %+v: want every leaf sent charged and the one voucher paid", e)
	}
}
