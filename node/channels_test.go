package node

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/ledger/miner"
)

// channelWorld is a dev chain in memory, mined by hand, with a payer and a
// payee whose channel managers keep their vouchers in leveldb stores of
// their own.
type channelWorld struct {
	t            *testing.T
	chain        *ledger.Chain
	now          time.Time
	payerKey     *btcec.PrivateKey
	payeeKey     *btcec.PrivateKey
	payer, payee ledger.Address
	payerDir     string
	payeeDir     string
}

func newChannelWorld(t *testing.T) *channelWorld {
	t.Helper()
	p := ledger.NetworkDev.Params()
	chain, err := ledger.OpenChain(ledger.Config{Params: p, Store: ledger.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { chain.Close() })
	w := &channelWorld{t: t, chain: chain, now: time.UnixMilli(p.GenesisTime), payerDir: t.TempDir(), payeeDir: t.TempDir()}
	if w.payerKey, err = ledger.GenerateKey(); err != nil {
		t.Fatal(err)
	}
	if w.payeeKey, err = ledger.GenerateKey(); err != nil {
		t.Fatal(err)
	}
	w.payer = ledger.AddressFromPubKey(w.payerKey.PubKey())
	w.payee = ledger.AddressFromPubKey(w.payeeKey.PubKey())
	return w
}

// mine mines one block paying to, with the mempool's transactions.
func (w *channelWorld) mine(to ledger.Address) {
	w.t.Helper()
	p := w.chain.Params()
	w.now = w.now.Add(p.BlockInterval)
	blk, err := w.chain.BlockTemplate(to, w.now)
	if err != nil {
		w.t.Fatal(err)
	}
	if ok, err := miner.Solve(context.Background(), &blk.Header, p, 0, 1, 0, nil); !ok || err != nil {
		w.t.Fatalf("solve: %v", err)
	}
	if res, err := w.chain.ProcessBlock(blk, w.now); err != nil || res.Status != ledger.StatusMainChain {
		w.t.Fatalf("mined block: %s %v", res.Status, err)
	}
}

// manager opens a channel manager for key on the store in dir; closing
// the store at the end of the test (or earlier, for a crash) is the
// caller's.
func (w *channelWorld) manager(key *btcec.PrivateKey, dir string) (*ChannelManager, *voucherStore) {
	w.t.Helper()
	st, err := openVoucherStore(dir)
	if err != nil {
		w.t.Fatal(err)
	}
	m := newChannelManager(channelManagerConfig{
		chain: w.chain, key: key, store: st, margin: defaultCloseMarginDev,
		log:    slog.New(slog.DiscardHandler),
		submit: w.chain.AddTx,
	})
	return m, st
}

// open funds the payer, opens a channel of deposit to the payee expiring
// life blocks above the tip, mines it, and returns its id.
func (w *channelWorld) open(deposit, life uint64) ledger.Hash {
	w.t.Helper()
	w.mine(w.payer)
	tx, err := w.chain.NewChannelOpen(w.payerKey, w.payee, deposit, w.chain.Tip().Height+life, 0)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.chain.AddTx(tx); err != nil {
		w.t.Fatal(err)
	}
	w.mine(ledger.Address{})
	return tx.ID()
}

func (w *channelWorld) balance(a ledger.Address) uint64 {
	w.t.Helper()
	acct, err := w.chain.Account(a)
	if err != nil {
		w.t.Fatal(err)
	}
	return acct.Balance
}

// closes returns the close transactions of channel id in the mempool.
func (w *channelWorld) closes(id ledger.Hash) []*ledger.Tx {
	var out []*ledger.Tx
	for _, tx := range w.chain.MempoolTxs() {
		if tx.Kind == ledger.TxChannelClose {
			if pl, err := ledger.DecodeChannelPayload(tx.Kind, tx.Payload); err == nil && pl.Channel == id {
				out = append(out, tx)
			}
		}
	}
	return out
}

func TestChannelManagerPaysAcceptsAndClosesBeforeExpiry(t *testing.T) {
	w := newChannelWorld(t)
	payer, pst := w.manager(w.payerKey, w.payerDir)
	defer pst.Close()
	payee, est := w.manager(w.payeeKey, w.payeeDir)
	defer est.Close()
	const deposit = 1000
	id := w.open(deposit, 10)
	funded := w.balance(w.payer) // after the deposit left it

	v1, err := payer.PayerVoucher(id, 100)
	if err != nil || v1.Amount != 100 {
		t.Fatalf("first voucher: %+v, %v", v1, err)
	}
	v2, err := payer.PayerVoucher(id, 250)
	if err != nil || v2.Amount != 350 {
		t.Fatalf("second voucher pays %d (%v); want the cumulative 350", v2.Amount, err)
	}
	if _, err := payer.PayerVoucher(id, deposit); err == nil {
		t.Error("a voucher over the deposit was signed")
	}
	if _, err := payer.PayerVoucher(id, 0); err == nil {
		t.Error("a voucher paying nothing more was signed")
	}
	if _, err := payee.PayerVoucher(id, 1); err == nil {
		t.Error("the payee signed a voucher in a channel it does not pay")
	}

	a, err := payee.PayeeAccept(v2)
	if err != nil || !a.Accepted || a.Highest != 350 || a.Added() != 350 {
		t.Fatalf("accept 350: %+v, %v", a, err)
	}
	// A lower or equal voucher is ignored, not an error.
	for _, v := range []ledger.Voucher{v1, v2} {
		a, err := payee.PayeeAccept(v)
		if err != nil || a.Accepted || a.Highest != 350 || a.Added() != 0 {
			t.Errorf("accept %d after 350: %+v, %v; want it ignored", v.Amount, a, err)
		}
	}
	// A voucher the payer did not sign, or to someone else, is refused.
	forged := v2
	forged.Amount = 900
	var re *ledger.RuleError
	if _, err := payee.PayeeAccept(forged); !errors.As(err, &re) || re.Code != ledger.ErrBadVoucherSignature {
		t.Errorf("forged voucher: %v; want ErrBadVoucherSignature", err)
	}
	if _, err := payer.PayeeAccept(v2); !errors.As(err, &re) || re.Code != ledger.ErrChannelNotPayee {
		t.Errorf("accepted by the payer: %v; want ErrChannelNotPayee", err)
	}

	// Nothing is closed until the tip comes within the margin of expiry.
	ch, err := w.chain.Channel(id)
	if err != nil {
		t.Fatal(err)
	}
	for w.chain.Tip().Height+defaultCloseMarginDev < ch.Expiry {
		payee.closeDue(w.chain.Tip().Height)
		if c := w.closes(id); len(c) != 0 {
			t.Fatalf("closed at height %d, expiry %d, margin %d", w.chain.Tip().Height, ch.Expiry, defaultCloseMarginDev)
		}
		w.mine(ledger.Address{})
	}
	payee.closeDue(w.chain.Tip().Height)
	payee.closeDue(w.chain.Tip().Height) // a second pass leaves the pending close alone
	if c := w.closes(id); len(c) != 1 {
		t.Fatalf("%d closes pending at height %d (expiry %d); want 1", len(c), w.chain.Tip().Height, ch.Expiry)
	}
	// The close carries 350: a higher voucher can no longer count.
	v3, err := payer.PayerVoucher(id, 50)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := payee.PayeeAccept(v3); err == nil {
		t.Error("a voucher above the one the pending close carries was accepted")
	}
	w.mine(ledger.Address{})
	ch, err = w.chain.Channel(id)
	if err != nil || ch.State != ledger.ChannelClosed || ch.Paid != 350 {
		t.Fatalf("channel after the close: %+v, %v", ch, err)
	}
	if got := w.balance(w.payee); got != 350 {
		t.Errorf("payee balance %d; want 350", got)
	}
	if got := w.balance(w.payer); got != funded+deposit-350 {
		t.Errorf("payer balance %d; want %d + %d - 350", got, funded, deposit)
	}
	if _, _, err := payee.Close(id, 0); err == nil {
		t.Error("a closed channel closed again")
	}
}

// TestChannelManagerVouchersSurviveRestart closes the voucher stores as a
// crash would (what was acknowledged is all that is on disk) and opens
// new managers on them: the payer never signs the same or a lower amount
// again, and the payee closes with the highest voucher it acknowledged.
func TestChannelManagerVouchersSurviveRestart(t *testing.T) {
	w := newChannelWorld(t)
	payer, pst := w.manager(w.payerKey, w.payerDir)
	payee, est := w.manager(w.payeeKey, w.payeeDir)
	id := w.open(500, 50)
	v, err := payer.PayerVoucher(id, 120)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := payee.PayeeAccept(v); err != nil {
		t.Fatal(err)
	}
	pst.Close()
	est.Close()

	payer, pst = w.manager(w.payerKey, w.payerDir)
	defer pst.Close()
	payee, est = w.manager(w.payeeKey, w.payeeDir)
	defer est.Close()
	if got, err := payer.issued(id); err != nil || got != 120 {
		t.Fatalf("issued after restart: %d, %v; want 120", got, err)
	}
	v2, err := payer.PayerVoucher(id, 1)
	if err != nil || v2.Amount != 121 {
		t.Fatalf("voucher after restart pays %d (%v); want 121", v2.Amount, err)
	}
	tx, closed, err := payee.Close(id, 0)
	if err != nil || closed.Amount != 120 {
		t.Fatalf("close after restart: %v with %d; want the acknowledged 120", err, closed.Amount)
	}
	if again, _, err := payee.Close(id, 0); err != nil || again != tx {
		t.Errorf("a second close gave %s, %v; want the pending %s", again, err, tx)
	}
	w.mine(ledger.Address{})
	if ch, err := w.chain.Channel(id); err != nil || ch.State != ledger.ChannelClosed || ch.Paid != 120 {
		t.Fatalf("channel: %+v, %v", ch, err)
	}
}

// TestChannelManagerLeavesChannelsWithoutVoucher: a channel whose payee
// holds no voucher is not closed (a close needs one); the payer refunds
// it after expiry.
func TestChannelManagerLeavesChannelsWithoutVoucher(t *testing.T) {
	w := newChannelWorld(t)
	payee, est := w.manager(w.payeeKey, w.payeeDir)
	defer est.Close()
	id := w.open(500, 4)
	if _, _, err := payee.Close(id, 0); err == nil {
		t.Error("closed a channel with no voucher")
	}
	for range 5 {
		payee.closeDue(w.chain.Tip().Height)
		w.mine(ledger.Address{})
	}
	if c := w.closes(id); len(c) != 0 {
		t.Fatalf("%d closes of a channel without voucher", len(c))
	}
	tx, err := w.chain.NewChannelRefund(w.payerKey, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.chain.AddTx(tx); err != nil {
		t.Fatal(err)
	}
	w.mine(ledger.Address{})
	if ch, err := w.chain.Channel(id); err != nil || ch.State != ledger.ChannelRefunded {
		t.Fatalf("channel: %+v, %v", ch, err)
	}
}

// TestChannelManagerPayeeAcceptChecksOnlyHigherVouchers: a voucher below
// the highest accepted one, or that one again, is ignored before its
// signature is checked (one with a broken signature is ignored too: it
// could change nothing); one for the same amount with another signature,
// and a higher one, are fully checked before anything is stored, also
// when several arrive at once.
func TestChannelManagerPayeeAcceptChecksOnlyHigherVouchers(t *testing.T) {
	w := newChannelWorld(t)
	payer, payee := w.managers()
	const deposit = 1000
	id := w.open(deposit, 50)
	v, err := payer.PayerVoucher(id, 100)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := payee.PayeeAccept(v); err != nil || !a.Accepted {
		t.Fatalf("accept 100: %+v, %v", a, err)
	}
	stored := func() uint64 {
		t.Helper()
		got, err := payee.accepted(id)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	lower := v
	lower.Amount = 40
	lower.Sig[0] ^= 0xff // would fail verification
	for _, stale := range []ledger.Voucher{v, lower} {
		a, err := payee.PayeeAccept(stale)
		if err != nil || a.Accepted || a.Previous != 100 || a.Highest != 100 || a.Channel.Deposit != deposit {
			t.Errorf("stale voucher for %d: %+v, %v; want it ignored unchecked, with the channel", stale.Amount, a, err)
		}
	}
	var re *ledger.RuleError
	resigned := v
	resigned.Sig[0] ^= 0xff
	if _, err := payee.PayeeAccept(resigned); !errors.As(err, &re) || re.Code != ledger.ErrBadVoucherSignature {
		t.Errorf("the kept amount with another, broken signature: %v; want ErrBadVoucherSignature", err)
	}
	higher := v
	higher.Amount = 200
	if _, err := payee.PayeeAccept(higher); !errors.As(err, &re) || re.Code != ledger.ErrBadVoucherSignature {
		t.Errorf("a higher voucher with the old signature: %v; want ErrBadVoucherSignature", err)
	}
	if got := stored(); got != 100 {
		t.Fatalf("after a refused voucher the payee holds %d; want 100", got)
	}

	// Vouchers arriving at once: the highest wins, whatever the order.
	vs := issueVouchers(t, payer, id, 8, 10)
	var wg sync.WaitGroup
	for i := len(vs) - 1; i >= 0; i-- {
		wg.Go(func() {
			if _, err := payee.PayeeAccept(vs[i]); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got, want := stored(), vs[len(vs)-1].Amount; got != want {
		t.Fatalf("after concurrent vouchers the payee holds %d; want %d", got, want)
	}
}

// managers opens the payer's and the payee's channel managers, whose
// stores close at the end of the test.
func (w *channelWorld) managers() (payer, payee *ChannelManager) {
	payer, pst := w.manager(w.payerKey, w.payerDir)
	w.t.Cleanup(func() { pst.Close() })
	payee, est := w.manager(w.payeeKey, w.payeeDir)
	w.t.Cleanup(func() { est.Close() })
	return payer, payee
}

// TestChannelManagerConcurrentAcceptsKeepTheHighest: payments from several
// streams land at once while the close loop runs on every tip; the payee
// keeps the highest voucher and closes with it (go test -race checks the
// locking).
func TestChannelManagerConcurrentAcceptsKeepTheHighest(t *testing.T) {
	w := newChannelWorld(t)
	payer, payee := w.managers()
	id := w.open(100_000, 40)
	vs := issueVouchers(t, payer, id, 60, 7)
	ctx, cancel := context.WithCancel(context.Background())
	loopDone := make(chan struct{})
	go func() { defer close(loopDone); payee.run(ctx) }()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < len(vs); i += 4 {
				if _, err := payee.PayeeAccept(vs[i]); err != nil {
					t.Errorf("accept %d: %v", vs[i].Amount, err)
				}
			}
		})
	}
	for range 5 {
		w.mine(ledger.Address{}) // tips for the close loop meanwhile
	}
	wg.Wait()
	cancel()
	<-loopDone
	if got, err := payee.accepted(id); err != nil || got != vs[len(vs)-1].Amount {
		t.Fatalf("highest accepted %d (%v); want %d", got, err, vs[len(vs)-1].Amount)
	}
	if _, v, err := payee.Close(id, 0); err != nil || v.Amount != 420 {
		t.Fatalf("close with %d (%v); want 420", v.Amount, err)
	}
}

// issueVouchers has payer sign n vouchers of amount more each in channel id.
func issueVouchers(t *testing.T, payer *ChannelManager, id ledger.Hash, n int, amount uint64) []ledger.Voucher {
	t.Helper()
	var vs []ledger.Voucher
	for range n {
		v, err := payer.PayerVoucher(id, amount)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return vs
}
