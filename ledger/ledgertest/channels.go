package ledgertest

import (
	"maps"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/myco-p2p/myco/ledger"
)

// channelTx returns a signed channel transaction of kind with payload p.
func (g *Generator) channelTx(from *btcec.PrivateKey, kind ledger.TxKind, p ledger.ChannelPayload, to ledger.Address, amount, fee, nonce uint64) *ledger.Tx {
	payload, err := p.Encode(kind)
	if err != nil {
		panic(err)
	}
	tx := &ledger.Tx{ChainID: g.P.ChainID, Kind: kind, Nonce: nonce, Recipient: to, Amount: amount, Fee: fee, Payload: payload}
	return Resign(tx, from)
}

// ChannelOpen returns a signed opening of a channel from payer to payee;
// the channel's id is the transaction's id.
func (g *Generator) ChannelOpen(payer *btcec.PrivateKey, payee ledger.Address, deposit, expiry, fee, nonce uint64) *ledger.Tx {
	return g.channelTx(payer, ledger.TxChannelOpen, ledger.ChannelPayload{Expiry: expiry}, payee, deposit, fee, nonce)
}

// ChannelClose returns a signed close of channel id by from with voucher v.
func (g *Generator) ChannelClose(from *btcec.PrivateKey, id ledger.Hash, v ledger.Voucher, fee, nonce uint64) *ledger.Tx {
	return g.channelTx(from, ledger.TxChannelClose, ledger.ChannelPayload{Channel: id, Voucher: v}, ledger.Address{}, 0, fee, nonce)
}

// ChannelRefund returns a signed refund of channel id by from.
func (g *Generator) ChannelRefund(from *btcec.PrivateKey, id ledger.Hash, fee, nonce uint64) *ledger.Tx {
	return g.channelTx(from, ledger.TxChannelRefund, ledger.ChannelPayload{Channel: id}, ledger.Address{}, 0, fee, nonce)
}

// ChannelTopup returns a signed top-up of channel id by from: add more
// deposit and a new expiry.
func (g *Generator) ChannelTopup(from *btcec.PrivateKey, id ledger.Hash, add, expiry, fee, nonce uint64) *ledger.Tx {
	return g.channelTx(from, ledger.TxChannelTopup, ledger.ChannelPayload{Channel: id, Expiry: expiry}, ledger.Address{}, add, fee, nonce)
}

// Voucher returns payer's voucher for a cumulative amount in channel id on
// the generator's network.
func (g *Generator) Voucher(payer *btcec.PrivateKey, id ledger.Hash, amount uint64) ledger.Voucher {
	v, err := ledger.SignVoucher(payer, g.P.ChainID, id, amount)
	if err != nil {
		panic(err)
	}
	return v
}

// Channels returns the modelled channels after the named block, by id (do
// not modify).
func (g *Generator) Channels(name string) map[ledger.Hash]ledger.Channel {
	g.Block(name)
	return g.chans[name]
}

// modelChannels applies a block's channel transactions to copies of the
// accounts (as model left them: fees and deposits paid) and of the
// channels, the simple way: an open records the channel, a top-up adds to
// its deposit and sets its expiry, a close pays the voucher to the payee
// and the rest to the payer, a refund pays the deposit back. It trusts the
// block: a block meant to be invalid gets a state nobody will compare.
// Balances are summed in uint64 as the chain does, so the order of the
// credits against model's debits does not change the result.
func modelChannels(prevAccounts map[ledger.Address]ledger.Account, prev map[ledger.Hash]ledger.Channel, blk *ledger.Block) (map[ledger.Address]ledger.Account, map[ledger.Hash]ledger.Channel) {
	s, chans := maps.Clone(prevAccounts), maps.Clone(prev)
	h := blk.Header.Height
	pay := func(a ledger.Address, amount uint64) {
		acc := s[a]
		acc.Balance += amount
		s[a] = acc
	}
	for _, tx := range blk.Txs {
		p, err := ledger.DecodeChannelPayload(tx.Kind, tx.Payload)
		if err != nil {
			continue // not a channel transaction
		}
		if tx.Kind == ledger.TxChannelOpen {
			id := tx.ID()
			chans[id] = ledger.Channel{ID: id, PayerKey: tx.Sender, Payee: tx.Recipient, Deposit: tx.Amount, Expiry: p.Expiry, Opened: h, State: ledger.ChannelOpen}
			continue
		}
		ch, ok := chans[p.Channel]
		if !ok {
			continue
		}
		switch tx.Kind {
		case ledger.TxChannelTopup:
			ch.Deposit += tx.Amount
			ch.Expiry = p.Expiry
		case ledger.TxChannelClose:
			ch.State, ch.Settled, ch.Paid = ledger.ChannelClosed, h, p.Voucher.Amount
			pay(ch.Payee, p.Voucher.Amount)
			pay(ch.Payer(), ch.Deposit-p.Voucher.Amount)
		case ledger.TxChannelRefund:
			ch.State, ch.Settled = ledger.ChannelRefunded, h
			pay(ch.Payer(), ch.Deposit)
		}
		chans[p.Channel] = ch
	}
	for a, acc := range s {
		if acc == (ledger.Account{}) {
			delete(s, a)
		}
	}
	return s, chans
}

// channels scripts payment channels on top of the names part: opens that
// break a rule, closes by the wrong key, with vouchers for another
// channel, another network, more than the deposit or with a bad
// signature, refunds too early or by the payee, top-ups, a close whose fee
// comes from what it pays, a close and a refund racing in one block and in
// the mempool, double closes and closes after refunds, and a close and a
// refund of one channel on two branches across two reorganisations, with a
// channel opened on the branch that loses.
func (s *scripter) channels(k []*btcec.PrivateKey) {
	g := s.g
	coin := ledger.Coin
	const fee = 10
	payer, payee, bob, dave := k[6], k[7], k[5], k[3]
	nonce := func(block string, key *btcec.PrivateKey) uint64 { return g.Nonce(block, key) }

	// c1 funds the payer and mines dave's anchor of W that the names
	// part left pending; base is its height.
	pay := Addr(payer)
	parent := s.tip
	s.tip = "c1"
	s.add(Test{Name: "c1", Block: g.NextBlock("c1", parent, []*ledger.Tx{g.Block("s17").Txs[1]}, Opts{PayTo: &pay}), Want: MainChain, Mempool: 0})
	base := g.Block("c1").Header.Height
	np := nonce("c1", payer)
	open := func(to ledger.Address, deposit, expiry, n uint64) *ledger.Tx {
		return g.ChannelOpen(payer, to, deposit, expiry, fee, n)
	}
	s.reject("open-zero-deposit", ledger.ErrZeroAmount, []*ledger.Tx{open(Addr(payee), 0, base+10, np)}, Opts{})
	s.reject("open-to-zero-address", ledger.ErrBadRecipient, []*ledger.Tx{open(ledger.Address{}, coin, base+10, np)}, Opts{})
	s.reject("open-to-self", ledger.ErrBadRecipient, []*ledger.Tx{open(pay, coin, base+10, np)}, Opts{})
	short := open(Addr(payee), coin, base+10, np)
	short.Payload = short.Payload[:7]
	s.reject("open-short-payload", ledger.ErrBadChannelTx, []*ledger.Tx{Resign(short, payer)}, Opts{})
	// The next block is at base+1: an expiry there is already reached.
	s.reject("open-expiry-now", ledger.ErrChannelExpiryTooSoon, []*ledger.Tx{open(Addr(payee), coin, base+1, np)}, Opts{})
	s.txBad("tx-open-expiry-now", open(Addr(payee), coin, base+1, np), ledger.ErrChannelExpiryTooSoon)

	// c2 (base+1) opens three channels: ch1 to the payee, closed with a
	// voucher; ch2 to bob, closed on one branch and refunded on another;
	// ch3 to the payee, raced in the mempool and refunded.
	ch1 := open(Addr(payee), 10*coin, base+8, np)
	ch2 := open(Addr(bob), 5*coin, base+4, np+1)
	ch3 := open(Addr(payee), coin, base+3, np+2)
	s.accept("c2", "c1", []*ledger.Tx{ch1, ch2, ch3}, Opts{})
	id1, id2, id3 := ch1.ID(), ch2.ID(), ch3.ID()
	np, npe := nonce("c2", payer), nonce("c2", payee)
	v1 := g.Voucher(payer, id1, 3*coin)
	closeBy := func(from *btcec.PrivateKey, id ledger.Hash, v ledger.Voucher, n uint64) []*ledger.Tx {
		return []*ledger.Tx{g.ChannelClose(from, id, v, fee, n)}
	}
	unknown := ledger.Hash{1, 2, 3}
	s.reject("close-unknown-channel", ledger.ErrNoSuchChannel, closeBy(payee, unknown, g.Voucher(payer, unknown, coin), npe), Opts{})
	s.reject("close-by-payer", ledger.ErrChannelNotPayee, closeBy(payer, id1, v1, np), Opts{})
	s.reject("close-by-stranger", ledger.ErrChannelNotPayee, closeBy(dave, id1, v1, nonce("c2", dave)), Opts{})
	s.reject("close-voucher-other-channel", ledger.ErrVoucherWrongChannel, closeBy(payee, id1, g.Voucher(payer, id3, coin), npe), Opts{})
	otherNet, err := ledger.SignVoucher(payer, ledger.NetworkMain.Params().ChainID, id1, coin)
	if err != nil {
		panic(err)
	}
	s.reject("close-voucher-other-chain", ledger.ErrVoucherWrongChain, closeBy(payee, id1, otherNet, npe), Opts{})
	s.reject("close-over-deposit", ledger.ErrVoucherOverDeposit, closeBy(payee, id1, g.Voucher(payer, id1, 10*coin+1), npe), Opts{})
	badSig := v1
	badSig.Sig[7] ^= 1
	s.reject("close-bad-voucher-signature", ledger.ErrBadVoucherSignature, closeBy(payee, id1, badSig, npe), Opts{})
	s.reject("close-voucher-by-payee", ledger.ErrBadVoucherSignature, closeBy(payee, id1, g.Voucher(payee, id1, coin), npe), Opts{})
	raised := v1
	raised.Amount = 4 * coin // the payer signed 3
	s.reject("close-voucher-amount-raised", ledger.ErrBadVoucherSignature, closeBy(payee, id1, raised, npe), Opts{})
	withAmount := g.ChannelClose(payee, id1, v1, fee, npe)
	withAmount.Amount = 1
	s.reject("close-with-amount", ledger.ErrBadChannelTx, []*ledger.Tx{Resign(withAmount, payee)}, Opts{})
	s.reject("refund-before-expiry", ledger.ErrChannelNotExpired, []*ledger.Tx{g.ChannelRefund(payer, id3, fee, np)}, Opts{})
	s.txBad("tx-refund-before-expiry", g.ChannelRefund(payer, id3, fee, np), ledger.ErrChannelNotExpired)
	s.reject("refund-by-payee", ledger.ErrChannelNotPayer, []*ledger.Tx{g.ChannelRefund(payee, id3, fee, npe)}, Opts{})
	s.reject("topup-by-stranger", ledger.ErrChannelNotPayer, []*ledger.Tx{g.ChannelTopup(dave, id1, 1, base+20, fee, nonce("c2", dave))}, Opts{})
	s.reject("topup-shortens-expiry", ledger.ErrChannelExpiryShortened, []*ledger.Tx{g.ChannelTopup(payer, id1, coin, base+7, fee, np)}, Opts{})
	s.reject("topup-unknown-channel", ledger.ErrNoSuchChannel, []*ledger.Tx{g.ChannelTopup(payer, unknown, coin, base+20, fee, np)}, Opts{})

	// c3 (base+2): the payer adds 2 coins to ch1 and extends it to base+9.
	s.accept("c3", "c2", []*ledger.Tx{g.ChannelTopup(payer, id1, 2*coin, base+9, fee, np)}, Opts{})
	np = nonce("c3", payer)
	// From base+3 ch3 has expired. The payee closes it and the payer
	// refunds it in one block: the first settles it, the second is refused.
	close3 := g.ChannelClose(payee, id3, g.Voucher(payer, id3, coin/2), fee, npe)
	refund3 := g.ChannelRefund(payer, id3, fee, np)
	s.reject("close-and-refund-one-block", ledger.ErrChannelClosed, []*ledger.Tx{close3, refund3}, Opts{})
	// The payee, with no coins yet, closes ch1 with a voucher for 7 coins:
	// the fee comes out of them.
	close1 := g.ChannelClose(payee, id1, g.Voucher(payer, id1, 7*coin), fee, npe)
	s.txOK("tx-close-fee-from-voucher", close1, 1)
	// The refund and close of ch3 race in the mempool: the first in wins.
	s.txOK("tx-refund-expired", refund3, 2)
	s.txBad("tx-close-racing-refund", g.ChannelClose(payee, id3, g.Voucher(payer, id3, coin/2), fee, npe+1), ledger.ErrMempoolChannelConflict)
	s.txBad("tx-topup-racing-close", g.ChannelTopup(payer, id1, coin, base+12, fee, np+1), ledger.ErrMempoolChannelConflict)
	s.tip = "c4"
	s.add(Test{Name: "c4-close-and-refund", Block: g.NextBlock("c4", "c3", []*ledger.Tx{close1, refund3}, Opts{}), Want: MainChain, Mempool: 0})

	// On c4 (next block base+4): ch1 is closed, ch3 refunded.
	np, npe = nonce("c4", payer), nonce("c4", payee)
	double := g.ChannelClose(payee, id1, g.Voucher(payer, id1, 8*coin), fee, npe)
	s.reject("double-close", ledger.ErrChannelClosed, []*ledger.Tx{double}, Opts{})
	s.txBad("tx-double-close", double, ledger.ErrChannelClosed)
	s.reject("close-after-refund", ledger.ErrChannelRefunded, closeBy(payee, id3, g.Voucher(payer, id3, coin), npe), Opts{})
	s.reject("refund-after-close", ledger.ErrChannelClosed, []*ledger.Tx{g.ChannelRefund(payer, id1, fee, np)}, Opts{})
	s.reject("refund-twice", ledger.ErrChannelRefunded, []*ledger.Tx{g.ChannelRefund(payer, id3, fee, np)}, Opts{})
	s.reject("topup-after-close", ledger.ErrChannelClosed, []*ledger.Tx{g.ChannelTopup(payer, id1, coin, base+20, fee, np)}, Opts{})

	// ch2 expires at base+4. Branch x: bob closes it (a payee may close
	// after expiry while no refund came). Branch y: the payer refunds it,
	// and the payee opens ch4 to dave. y wins, then x wins again.
	refund2 := g.ChannelRefund(payer, id2, fee, np)
	close2 := g.ChannelClose(bob, id2, g.Voucher(payer, id2, 2*coin), fee, nonce("c4", bob))
	ch4 := g.ChannelOpen(payee, Addr(dave), coin, base+20, fee, npe)
	s.txOK("tx-refund-ch2", refund2, 1)
	// x5 closes ch2: the pending refund no longer fits and drops out.
	s.tip = "x5"
	s.add(Test{Name: "x5-close-drops-refund", Block: g.NextBlock("x5", "c4", []*ledger.Tx{close2}, Opts{}), Want: MainChain, Mempool: 0})
	s.add(Test{Name: "y5-side", Block: g.NextBlock("y5", "c4", []*ledger.Tx{refund2, ch4}, Opts{}), Want: SideChain, Mempool: -1})
	// On y ch2 is refunded: bob's close comes back from x5 and drops out.
	s.tip = "y6"
	s.add(Test{Name: "y6-reorg-refund", Block: g.NextBlock("y6", "y5", nil, Opts{}), Want: MainChain, Mempool: 0})
	s.add(Test{Name: "x6-side", Block: g.NextBlock("x6", "x5", nil, Opts{}), Want: SideChain, Mempool: -1})
	// Back on x ch2 is closed: the refund drops out; ch4 is gone with y,
	// and its opening comes back to the mempool.
	s.tip = "x7"
	s.add(Test{Name: "x7-reorg-close", Block: g.NextBlock("x7", "x6", nil, Opts{}), Want: MainChain, Mempool: 1})
	s.txBad("tx-close-unmined-channel", g.ChannelClose(dave, ch4.ID(), g.Voucher(payee, ch4.ID(), coin), fee, nonce("x7", dave)), ledger.ErrNoSuchChannel)
	s.tip = "x8"
	s.add(Test{Name: "x8-reopens-ch4", Block: g.NextBlock("x8", "x7", []*ledger.Tx{ch4}, Opts{}), Want: MainChain, Mempool: 0})
}
