package ledger_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/ledger/ledgertest"
)

// TestChannelsAcrossReorgs reads channels and balances through the
// exported API at the channel part's turning points of the consensus
// script: after the opens, after a close whose fee came from its voucher
// and a refund, and on each side of two reorganisations that close and
// refund one channel and open another on the losing branch.
func TestChannelsAcrossReorgs(t *testing.T) {
	s := ledgertest.ConsensusTests()
	g := s.G
	k := g.Keys
	payer, payee, bob, dave := ledgertest.Addr(k[6]), ledgertest.Addr(k[7]), ledgertest.Addr(k[5]), ledgertest.Addr(k[3])
	coin := ledger.Coin
	c, _ := openMem(t, g.P, s.Mempool)
	defer c.Close()
	run := &ledgertest.Replay{C: c, S: s}

	run.To(t, "c1")
	funded := ledgertest.Accounts(t, c)[payer].Balance
	run.To(t, "c2")
	opens := g.Block("c2").Txs[1:]
	id1, id2, id3 := opens[0].ID(), opens[1].ID(), opens[2].ID()
	base := g.Block("c1").Header.Height
	ch, err := c.Channel(id1)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Payer() != payer || ch.Payee != payee || ch.Deposit != 10*coin || ch.Expiry != base+8 || ch.State != ledger.ChannelOpen || ch.Opened != base+1 {
		t.Fatalf("ch1 after its open: %+v", ch)
	}
	if l, err := c.LockedInChannels(payer); err != nil || l != 16*coin {
		t.Fatalf("locked after the opens: %d %v, want 16 coins", l, err)
	}
	if got := ledgertest.Accounts(t, c)[payer].Balance; got != funded-16*coin-30 {
		t.Fatalf("payer's balance after the opens: %d, want %d", got, funded-16*coin-30)
	}
	pays, paid, err := c.ChannelsOf(payee)
	if err != nil || len(pays) != 0 || len(paid) != 2 {
		t.Fatalf("payee's channels: %d paying, %d paid %v", len(pays), len(paid), err)
	}
	if _, err := c.Channel(ledger.Hash{1}); !errors.Is(err, ledger.ErrUnknownChannel) {
		t.Fatalf("unknown channel: %v", err)
	}

	run.To(t, "c4-close-and-refund")
	// ch1 (12 coins after the top-up) closed with 7: the payee had
	// nothing and now holds 7 coins less the fee, the payer got 5 back;
	// ch3 (1 coin) refunded.
	if got := ledgertest.Accounts(t, c)[payee]; got.Balance != 7*coin-10 || got.Nonce != 1 {
		t.Fatalf("payee after the close: %+v, want 7 coins less the fee", got)
	}
	if got := ledgertest.Accounts(t, c)[payer].Balance; got != funded-16*coin-30-(2*coin+10)+5*coin-10+coin {
		t.Fatalf("payer's balance after the close and refund: %d", got)
	}
	if ch, _ := c.Channel(id1); ch.State != ledger.ChannelClosed || ch.Paid != 7*coin || ch.Deposit != 12*coin || ch.Expiry != base+9 || ch.Settled != base+3 {
		t.Fatalf("ch1 after its close: %+v", ch)
	}
	if ch, _ := c.Channel(id3); ch.State != ledger.ChannelRefunded || ch.Paid != 0 || ch.Settled != base+3 {
		t.Fatalf("ch3 after its refund: %+v", ch)
	}
	if l, _ := c.LockedInChannels(payer); l != 5*coin {
		t.Fatalf("locked after the close and refund: %d, want ch2's 5 coins", l)
	}

	run.To(t, "x5-close-drops-refund")
	if ch, _ := c.Channel(id2); ch.State != ledger.ChannelClosed || ch.Paid != 2*coin {
		t.Fatalf("ch2 on x: %+v", ch)
	}
	bobOnX := ledgertest.Accounts(t, c)[bob].Balance
	ch4 := g.Block("y5").Txs[2].ID()
	run.To(t, "y6-reorg-refund")
	if ch, _ := c.Channel(id2); ch.State != ledger.ChannelRefunded {
		t.Fatalf("ch2 on y: %+v", ch)
	}
	if got := ledgertest.Accounts(t, c)[bob].Balance; got != bobOnX-(2*coin-10) {
		t.Fatalf("bob on y: %d, want his x balance less the close's 2 coins and plus its fee", got)
	}
	if ch, err := c.Channel(ch4); err != nil || ch.Payer() != payee || ch.Payee != dave {
		t.Fatalf("ch4 on y: %+v %v", ch, err)
	}
	if l, _ := c.LockedInChannels(payer); l != 0 {
		t.Fatalf("payer's locked coins on y: %d", l)
	}
	run.To(t, "x7-reorg-close")
	if ch, _ := c.Channel(id2); ch.State != ledger.ChannelClosed || ch.Paid != 2*coin {
		t.Fatalf("ch2 back on x: %+v", ch)
	}
	if _, err := c.Channel(ch4); !errors.Is(err, ledger.ErrUnknownChannel) {
		t.Fatalf("ch4 after its branch lost: %v", err)
	}
	if _, paid, _ := c.ChannelsOf(dave); len(paid) != 0 {
		t.Fatalf("dave is paid by %d channels after ch4's branch lost", len(paid))
	}
	if !c.HasTx(ch4) {
		t.Fatal("ch4's opening did not come back to the mempool")
	}
	run.To(t, "x8-reopens-ch4")
	if ch, err := c.Channel(ch4); err != nil || ch.Opened != g.Block("x8").Header.Height {
		t.Fatalf("ch4 mined again: %+v %v", ch, err)
	}
	if l, _ := c.LockedInChannels(payee); l != coin {
		t.Fatalf("payee's locked coins: %d, want ch4's 1 coin", l)
	}
}

// TestChannelFlow walks the calls a node makes, with blocks built by
// BlockTemplate and mined for real: the payer opens a channel, pays with
// ever higher vouchers, the payee (with no coins of its own) closes with
// the highest; a second channel is topped up, refused a refund before its
// expiry and refunded at it.
func TestChannelFlow(t *testing.T) {
	p := ledger.NetworkDev.Params()
	c, _ := openMem(t, p, ledger.MempoolConfig{})
	defer c.Close()
	alice, bob := ledgertest.DeterministicKey(1), ledgertest.DeterministicKey(2)
	aliceAddr, bobAddr := ledgertest.Addr(alice), ledgertest.Addr(bob)
	miner := ledgertest.Addr(ledgertest.DeterministicKey(3))
	mineTo := templateMiner(t, c)
	mineBlock := func() *ledger.Block { return mineTo(miner) }
	add := func(tx *ledger.Tx, err error) error {
		t.Helper()
		if err != nil {
			return err
		}
		_, err = c.AddTx(tx)
		return err
	}
	balance := func(a ledger.Address) uint64 {
		t.Helper()
		acc, err := c.Account(a)
		if err != nil {
			t.Fatal(err)
		}
		return acc.Balance
	}
	coin := ledger.Coin
	mineTo(aliceAddr)
	funded := balance(aliceAddr)

	// The builders refuse what a block would.
	if err := add(c.NewChannelOpen(alice, bobAddr, 0, 100, 10)); ledgertest.RuleCode(err) != ledger.ErrZeroAmount {
		t.Fatalf("open without deposit: %v", err)
	}
	if err := add(c.NewChannelOpen(alice, aliceAddr, coin, 100, 10)); ledgertest.RuleCode(err) != ledger.ErrBadRecipient {
		t.Fatalf("open to self: %v", err)
	}
	if err := add(c.NewChannelOpen(alice, bobAddr, coin, c.Tip().Height+1, 10)); ledgertest.RuleCode(err) != ledger.ErrChannelExpiryTooSoon {
		t.Fatalf("open expiring in its own block: %v", err)
	}

	// openChannel opens a channel from alice to bob, mines it and returns its id.
	openChannel := func(deposit, expiry uint64) ledger.Hash {
		t.Helper()
		open, err := c.NewChannelOpen(alice, bobAddr, deposit, expiry, 10)
		if err == nil {
			err = add(open, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		mineBlock()
		return open.ID()
	}
	id := openChannel(5*coin, c.Tip().Height+50)
	ch, err := c.Channel(id)
	if err != nil {
		t.Fatal(err)
	}
	// Vouchers: each supersedes the last; the payee checks each against
	// the channel's payer key.
	var last ledger.Voucher
	for i := uint64(1); i <= 5; i++ {
		v, err := ledger.SignVoucher(alice, p.ChainID, id, i*700_000)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Verify(ch.PayerKey); err != nil {
			t.Fatalf("voucher %d: %v", i, err)
		}
		if got, err := c.CheckVoucher(v, bobAddr); err != nil || got != ch {
			t.Fatalf("check voucher %d: %+v %v", i, got, err)
		}
		last = v
	}
	forged := last
	forged.Amount += 1
	if err := forged.Verify(ch.PayerKey); ledgertest.RuleCode(err) != ledger.ErrBadVoucherSignature {
		t.Fatalf("a raised voucher verifies: %v", err)
	}
	// CheckVoucher refuses what a close would.
	for _, bad := range []struct {
		v     ledger.Voucher
		payee ledger.Address
		code  ledger.ErrorCode
	}{
		{forged, bobAddr, ledger.ErrBadVoucherSignature},
		{last, aliceAddr, ledger.ErrChannelNotPayee},
		{mustVoucher(t, alice, p.ChainID, id, 5*coin+1), bobAddr, ledger.ErrVoucherOverDeposit},
		{mustVoucher(t, alice, p.ChainID+1, id, 1), bobAddr, ledger.ErrVoucherWrongChain},
		{mustVoucher(t, alice, p.ChainID, ledger.Hash{1}, 1), bobAddr, ledger.ErrNoSuchChannel},
		{mustVoucher(t, bob, p.ChainID, id, 1), bobAddr, ledger.ErrBadVoucherSignature},
	} {
		if _, err := c.CheckVoucher(bad.v, bad.payee); ledgertest.RuleCode(err) != bad.code {
			t.Fatalf("check voucher %+v for %x: %v, want %s", bad.v, bad.payee, err, bad.code)
		}
	}
	if l, _ := c.LockedInChannels(aliceAddr); l != 5*coin {
		t.Fatalf("locked %d, want 5 coins", l)
	}
	// Bob has no coins: the close's fee comes out of the voucher.
	if balance(bobAddr) != 0 {
		t.Fatal("bob has coins")
	}
	if err := add(c.NewChannelClose(bob, last, 25)); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := add(c.NewChannelTopup(alice, id, coin, ch.Expiry+10, 10)); ledgertest.RuleCode(err) != ledger.ErrMempoolChannelConflict {
		t.Fatalf("top-up racing the close: %v", err)
	}
	mineBlock()
	if got := balance(bobAddr); got != last.Amount-25 {
		t.Fatalf("bob's balance %d, want the voucher's %d less the fee", got, last.Amount)
	}
	if got, want := balance(aliceAddr), funded-5*coin-10+5*coin-last.Amount; got != want {
		t.Fatalf("alice's balance %d, want %d", got, want)
	}
	if ch, _ := c.Channel(id); ch.State != ledger.ChannelClosed || ch.Paid != last.Amount {
		t.Fatalf("after the close: %+v", ch)
	}
	if l, _ := c.LockedInChannels(aliceAddr); l != 0 {
		t.Fatalf("locked %d after the close", l)
	}
	if _, err := c.CheckVoucher(last, bobAddr); ledgertest.RuleCode(err) != ledger.ErrChannelClosed {
		t.Fatalf("check voucher after the close: %v", err)
	}

	// A second channel: topped up, then refunded at its expiry.
	expiry := c.Tip().Height + 5
	id2 := openChannel(coin, expiry)
	if err := add(c.NewChannelTopup(alice, id2, coin, expiry-1, 10)); ledgertest.RuleCode(err) != ledger.ErrChannelExpiryShortened {
		t.Fatalf("top-up shortening the expiry: %v", err)
	}
	expiry += 2
	if err := add(c.NewChannelTopup(alice, id2, coin, expiry, 10)); err != nil {
		t.Fatal(err)
	}
	mineBlock()
	if ch, _ := c.Channel(id2); ch.Deposit != 2*coin || ch.Expiry != expiry {
		t.Fatalf("after the top-up: %+v", ch)
	}
	before := balance(aliceAddr)
	for c.Tip().Height+1 < expiry {
		if err := add(c.NewChannelRefund(alice, id2, 10)); ledgertest.RuleCode(err) != ledger.ErrChannelNotExpired {
			t.Fatalf("refund at tip %d, expiry %d: %v", c.Tip().Height, expiry, err)
		}
		mineBlock()
	}
	if err := add(c.NewChannelRefund(alice, id2, 10)); err != nil {
		t.Fatalf("refund at expiry: %v", err)
	}
	blk := mineBlock()
	if got := balance(aliceAddr); got != before+2*coin-10 {
		t.Fatalf("alice after the refund: %d, want %d", got, before+2*coin-10)
	}
	if ch, _ := c.Channel(id2); ch.State != ledger.ChannelRefunded || ch.Settled != blk.Header.Height {
		t.Fatalf("after the refund: %+v", ch)
	}
	if err := add(c.NewChannelClose(bob, mustVoucher(t, alice, p.ChainID, id2, 1), 0)); ledgertest.RuleCode(err) != ledger.ErrChannelRefunded {
		t.Fatalf("close after the refund: %v", err)
	}
	pays, paid, err := c.ChannelsOf(bobAddr)
	if err != nil || len(pays) != 0 || len(paid) != 2 {
		t.Fatalf("bob's channels: %d, %d, %v", len(pays), len(paid), err)
	}
}

func mustVoucher(t testing.TB, k *btcec.PrivateKey, chainID uint32, id ledger.Hash, amount uint64) ledger.Voucher {
	t.Helper()
	v, err := ledger.SignVoucher(k, chainID, id, amount)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestVoucherEncoding: a voucher round-trips through its encoding and
// verifies only against its payer, and only with every signed field as
// signed; a decoder takes exactly VoucherSize bytes.
func TestVoucherEncoding(t *testing.T) {
	payer, other := ledgertest.DeterministicKey(1), ledgertest.DeterministicKey(2)
	p := ledger.NetworkDev.Params()
	id := ledger.Hash{9, 8, 7}
	v := mustVoucher(t, payer, p.ChainID, id, 123456)
	b := v.Encode()
	if len(b) != ledger.VoucherSize {
		t.Fatalf("voucher is %d bytes, want %d", len(b), ledger.VoucherSize)
	}
	back, err := ledger.DecodeVoucher(b)
	if err != nil || back != v {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	key := func(k *btcec.PrivateKey) [ledger.PubKeySize]byte {
		tx := &ledger.Tx{}
		if err := tx.Sign(k); err != nil {
			t.Fatal(err)
		}
		return tx.Sender
	}
	if err := v.Verify(key(payer)); err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(key(other)); ledgertest.RuleCode(err) != ledger.ErrBadVoucherSignature {
		t.Fatalf("verified against another key: %v", err)
	}
	var notAKey [ledger.PubKeySize]byte
	for i := range notAKey {
		notAKey[i] = 0xff
	}
	if err := v.Verify(notAKey); ledgertest.RuleCode(err) != ledger.ErrBadVoucherSignature {
		t.Fatalf("verified against no key: %v", err)
	}
	// Changing any byte of the encoding breaks the signature.
	for i := range b {
		bad := append([]byte(nil), b...)
		bad[i] ^= 0x20
		w, err := ledger.DecodeVoucher(bad)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Verify(key(payer)); ledgertest.RuleCode(err) != ledger.ErrBadVoucherSignature {
			t.Fatalf("byte %d changed: %v", i, err)
		}
	}
	for _, n := range []int{0, ledger.VoucherSize - 1, ledger.VoucherSize + 1} {
		if _, err := ledger.DecodeVoucher(make([]byte, n)); ledgertest.RuleCode(err) != ledger.ErrMalformed {
			t.Fatalf("%d bytes: %v", n, err)
		}
	}
}

// TestChannelPayloadEncoding: each kind's payload round-trips and has its
// exact length; other lengths and other kinds are refused.
func TestChannelPayloadEncoding(t *testing.T) {
	v := mustVoucher(t, ledgertest.DeterministicKey(1), 7, ledger.Hash{1}, 5)
	full := ledger.ChannelPayload{Channel: ledger.Hash{1}, Expiry: 99, Voucher: v}
	for kind, want := range map[ledger.TxKind]ledger.ChannelPayload{
		ledger.TxChannelOpen:   {Expiry: 99},
		ledger.TxChannelClose:  {Channel: ledger.Hash{1}, Voucher: v},
		ledger.TxChannelRefund: {Channel: ledger.Hash{1}},
		ledger.TxChannelTopup:  {Channel: ledger.Hash{1}, Expiry: 99},
	} {
		b, err := full.Encode(kind)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ledger.DecodeChannelPayload(kind, b)
		if err != nil || got != want {
			t.Fatalf("%s: %+v %v, want %+v", kind, got, err, want)
		}
		for _, n := range []int{0, len(b) - 1, len(b) + 1} {
			if _, err := ledger.DecodeChannelPayload(kind, make([]byte, n)); err == nil {
				t.Fatalf("%s: a %d-byte payload decoded", kind, n)
			}
		}
	}
	for _, kind := range []ledger.TxKind{ledger.TxCoinbase, ledger.TxTransfer, ledger.TxAnchor, ledger.TxNameCommit, 200} {
		if _, err := full.Encode(kind); err == nil {
			t.Fatalf("%s encoded as a channel payload", kind)
		}
		if _, err := ledger.DecodeChannelPayload(kind, make([]byte, 8)); err == nil {
			t.Fatalf("%s decoded as a channel payload", kind)
		}
	}
}

func FuzzDecodeVoucher(f *testing.F) {
	v, err := ledger.SignVoucher(ledgertest.DeterministicKey(1), 1, ledger.Hash{1}, 42)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v.Encode())
	f.Add([]byte{})
	f.Add(make([]byte, ledger.VoucherSize+1))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ledger.DecodeVoucher(b)
		if err != nil {
			if ledgertest.RuleCode(err) != ledger.ErrMalformed {
				t.Fatalf("decode error is not ErrMalformed: %v", err)
			}
			return
		}
		// The encoding is canonical: what decodes re-encodes to the same bytes.
		if !bytes.Equal(v.Encode(), b) {
			t.Fatalf("re-encoding differs")
		}
		_ = v.Verify([ledger.PubKeySize]byte(b[4:36])) // must not panic on any input
	})
}

func FuzzDecodeChannelPayload(f *testing.F) {
	v, err := ledger.SignVoucher(ledgertest.DeterministicKey(1), 1, ledger.Hash{1}, 42)
	if err != nil {
		f.Fatal(err)
	}
	full := ledger.ChannelPayload{Channel: ledger.Hash{1}, Expiry: 7, Voucher: v}
	for _, k := range []ledger.TxKind{ledger.TxChannelOpen, ledger.TxChannelClose, ledger.TxChannelRefund, ledger.TxChannelTopup} {
		b, err := full.Encode(k)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(k), b)
	}
	f.Add(uint8(ledger.TxTransfer), []byte{})
	f.Fuzz(func(t *testing.T, kind uint8, b []byte) {
		k := ledger.TxKind(kind)
		p, err := ledger.DecodeChannelPayload(k, b)
		if err != nil {
			return
		}
		// The encoding is canonical: what decodes re-encodes to the same bytes.
		enc, err := p.Encode(k)
		if err != nil {
			t.Fatalf("decoded %s payload does not encode: %v", k, err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("%s: re-encoding differs: %x, was %x", k, enc, b)
		}
	})
}
