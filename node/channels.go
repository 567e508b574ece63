package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"net/http"
	"os"
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/myco-p2p/myco/ledger"
)

// This file holds the node's side of payment channels (the ledger's
// rules are in ledger/channel.go): the vouchers it signs as payer and
// accepts as payee, kept durably in the voucher store (vouchers.go), and
// the closes it submits as payee, on demand and by itself before expiry.

// ChannelsConfig sets how the node settles the payment channels that pay
// it: the "channels" section of config.json. Zero takes the default in
// brackets.
type ChannelsConfig struct {
	// CloseMargin is how many blocks before a channel's expiry the node,
	// as payee, closes it with the highest voucher it accepted: once the
	// tip is at expiry - CloseMargin or above [6 on main (6 minutes); 20
	// on dev, whose blocks come many a second while its chain is behind
	// its 1 s schedule, as it is from genesis on].
	CloseMargin int `json:"close_margin,omitempty"`
	// CloseFee is the fee of those closes, in base units [0].
	CloseFee string `json:"close_fee,omitempty"`
	// Price is what the node charges for each MiB it uploads, in base
	// units ["0": free]; peers that pay get regular upload slots, others
	// only the optimistic one (see the swarm package's Payments).
	Price string `json:"price,omitempty"`
	// PayMax is the budget of a fetch that gives none (fetch --pay): the
	// most it pays priced peers in all, in base units ["0": it pays
	// nothing].
	PayMax string `json:"pay_max,omitempty"`
}

// settledWatch is how deep a channel's close or refund must be before the
// payee stops watching it: a reorganisation that undoes a close makes the
// channel open again, and it is closed again.
const settledWatch = 100

// Default close margins, in blocks.
const (
	defaultCloseMarginMain = 6
	defaultCloseMarginDev  = 20
)

func (c ChannelsConfig) validate() error {
	if c.CloseMargin < 0 {
		return fmt.Errorf("close_margin %d: must not be negative", c.CloseMargin)
	}
	for _, f := range []struct{ name, v string }{{"close_fee", c.CloseFee}, {"price", c.Price}, {"pay_max", c.PayMax}} {
		if _, err := ledger.ParseAmount(f.v); f.v != "" && err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return nil
}

// amountOf parses an amount field validate checked ("" is 0).
func amountOf(s string) uint64 {
	v, _ := ledger.ParseAmount(s)
	return v
}

// closeMargin is CloseMargin or the network's default.
func (c ChannelsConfig) closeMargin(netw ledger.Network) uint64 {
	switch {
	case c.CloseMargin > 0:
		return uint64(c.CloseMargin)
	case netw == ledger.NetworkMain:
		return defaultCloseMarginMain
	}
	return defaultCloseMarginDev
}

// EnvCrashAfterVoucherStore, set to any value in a daemon's environment,
// makes it kill itself (SIGKILL on Unix) right after it has stored a
// voucher it issues as payer and before it hands it out: the crash tests
// stop a payer at that exact point with it.
const EnvCrashAfterVoucherStore = "MYCO_TEST_CRASH_AFTER_VOUCHER_STORE"

// ChannelManager is the node's side of its payment channels. As payer it
// signs vouchers (PayerVoucher), each for a higher cumulative amount than
// any it signed before in the channel, and stores each durably before
// handing it out, so a crash never makes it sign the same or a lower
// amount again. As payee it accepts vouchers (PayeeAccept) and stores the
// highest durably before acknowledging it, and closes each channel it was
// paid through with that voucher once the tip is within the close margin
// of its expiry (run), or on demand (Close). A channel whose payee holds
// no voucher is left for the payer's refund: a close needs a voucher, and
// one for nothing would only cost the payee a fee.
//
// Its methods are safe for concurrent use; one mutex orders the
// read-compare-write of every voucher and the closes, so a close always
// carries the highest voucher acknowledged before it.
type ChannelManager struct {
	chain  *ledger.Chain
	params *ledger.Params
	key    *btcec.PrivateKey
	me     ledger.Address
	store  *voucherStore
	margin uint64
	fee    uint64
	log    *slog.Logger
	// submit puts a signed transaction in the mempool and gossips it.
	submit func(*ledger.Tx) (ledger.Hash, error)
	// crashAfterIssue: see EnvCrashAfterVoucherStore.
	crashAfterIssue bool

	mu sync.Mutex
	// closing maps a channel to the close this node submitted for it.
	closing map[ledger.Hash]ledger.Hash
	// paid is the channels this node accepted a voucher in and has not
	// seen settled, the ones closeDue watches; loaded from the store at
	// its first call (paidLoaded), then kept up by PayeeAccept.
	paid       map[ledger.Hash]struct{}
	paidLoaded bool

	// openMu orders the channels opened to pay peers (swarmpay.go);
	// opening maps a payee to the opening this node submitted for it.
	openMu  sync.Mutex
	opening map[ledger.Address]ledger.Hash
}

// channelManagerConfig is what a ChannelManager is made of.
type channelManagerConfig struct {
	chain  *ledger.Chain
	key    *btcec.PrivateKey
	store  *voucherStore
	margin uint64
	fee    uint64
	log    *slog.Logger
	submit func(*ledger.Tx) (ledger.Hash, error)
}

func newChannelManager(c channelManagerConfig) *ChannelManager {
	return &ChannelManager{
		chain:           c.chain,
		params:          c.chain.Params(),
		key:             c.key,
		me:              ledger.AddressFromPubKey(c.key.PubKey()),
		store:           c.store,
		margin:          c.margin,
		fee:             c.fee,
		log:             c.log,
		submit:          c.submit,
		crashAfterIssue: os.Getenv(EnvCrashAfterVoucherStore) != "",
		closing:         make(map[ledger.Hash]ledger.Hash),
		paid:            make(map[ledger.Hash]struct{}),
		opening:         make(map[ledger.Address]ledger.Hash),
	}
}

// payerOf reports whether this node's wallet pays ch.
func (m *ChannelManager) payerOf(ch ledger.Channel) bool { return ch.Payer() == m.me }

// channel returns the channel id on the main chain, with a 404 when it is
// unknown (saying so when its opening is still pending).
func (m *ChannelManager) channel(id ledger.Hash) (ledger.Channel, error) {
	ch, err := m.chain.Channel(id)
	if errors.Is(err, ledger.ErrUnknownChannel) {
		if m.chain.HasTx(id) {
			return ch, badRequest(fmt.Errorf("channel %s is not open yet: its opening waits in the mempool for a block", id))
		}
		return ch, &httpError{http.StatusNotFound, fmt.Errorf("no channel %s on this chain (its id is the txid 'myco channel open' printed)", id)}
	}
	return ch, err
}

// payerChannel returns channel id, open and paid by this node's wallet.
func (m *ChannelManager) payerChannel(id ledger.Hash) (ledger.Channel, error) {
	ch, err := m.channel(id)
	if err != nil {
		return ch, err
	}
	if !m.payerOf(ch) {
		return ch, badRequest(fmt.Errorf("channel %s is paid by %s, not by this node's wallet", id, ch.Payer().Encode(m.params)))
	}
	if ch.State != ledger.ChannelOpen {
		return ch, settledError(ch)
	}
	return ch, nil
}

// settledError says that ch is closed or refunded.
func settledError(ch ledger.Channel) error {
	return badRequest(fmt.Errorf("channel %s was %s at height %d", ch.ID, ch.State, ch.Settled))
}

// PayerVoucher signs a voucher that pays amount more in channel id, of
// which this node is the payer: its cumulative amount is the highest this
// node signed in the channel plus amount, at most the deposit. The
// voucher is stored durably before it is returned.
func (m *ChannelManager) PayerVoucher(id ledger.Hash, amount uint64) (ledger.Voucher, error) {
	if amount == 0 {
		return ledger.Voucher{}, badRequest(errors.New("pay: the amount must be at least 1 base unit"))
	}
	ch, err := m.payerChannel(id)
	if err != nil {
		return ledger.Voucher{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	prev, err := m.store.amount(roleIssued, id)
	if err != nil {
		return ledger.Voucher{}, err
	}
	total, carry := bits.Add64(prev, amount, 0)
	if carry != 0 || total > ch.Deposit {
		return ledger.Voucher{}, badRequest(fmt.Errorf("pay %d more in channel %s: its vouchers would promise more than the deposit %d (%d promised so far); top it up with 'myco channel topup'",
			amount, id, ch.Deposit, prev))
	}
	v, err := ledger.SignVoucher(m.key, m.params.ChainID, id, total)
	if err != nil {
		return ledger.Voucher{}, err
	}
	if err := m.store.put(roleIssued, v); err != nil {
		return ledger.Voucher{}, err
	}
	if m.crashAfterIssue {
		crashNow()
	}
	return v, nil
}

// crashNow kills this process at once, as a crash would.
func crashNow() {
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		p.Kill()
	}
	select {} // the kill is on its way
}

// Accepted is what PayeeAccept did with a voucher.
type Accepted struct {
	// Channel is the voucher's channel on the main chain.
	Channel ledger.Channel
	// Accepted is set when the voucher is above the highest one accepted
	// before (Previous) and is now the highest; otherwise it changed
	// nothing.
	Accepted bool
	// Previous is the highest amount accepted before this voucher;
	// Highest the highest now.
	Previous, Highest uint64
}

// Added is what the voucher paid on top of the ones accepted before.
func (a Accepted) Added() uint64 { return a.Highest - a.Previous }

// PayeeAccept checks a voucher received as payee (ledger's
// Chain.CheckVoucher: a close's rules) and keeps it when it is above the
// highest accepted in its channel, durably before it returns. A voucher
// below that one, or that very one again, is ignored, not an error, and
// is not checked: it could change nothing, and its signature is the
// costly part. (One for the same amount with another signature is checked
// and, if good, ignored.) Once this node has submitted the channel's
// close, a higher voucher is refused: the close can no longer carry it.
func (m *ChannelManager) PayeeAccept(v ledger.Voucher) (Accepted, error) {
	// Read without the lock: a hint, checked again under it below.
	kept, ok, err := m.store.get(roleAccepted, v.Channel)
	if err != nil {
		return Accepted{}, err
	}
	if ok && (v.Amount < kept.Amount || v == kept) { // a voucher was accepted, so the channel pays this node
		ch, err := m.chain.Channel(v.Channel)
		if errors.Is(err, ledger.ErrUnknownChannel) {
			return Accepted{}, &httpError{http.StatusNotFound, fmt.Errorf("voucher refused: %w (a reorganisation dropped its opening)", err)}
		}
		if err != nil {
			return Accepted{}, err
		}
		return Accepted{Channel: ch, Previous: kept.Amount, Highest: kept.Amount}, nil
	}
	ch, err := m.chain.CheckVoucher(v, m.me)
	if err != nil {
		return Accepted{}, voucherError(v, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// Another voucher may have been accepted meanwhile.
	prev, err := m.store.amount(roleAccepted, v.Channel)
	if err != nil {
		return Accepted{}, err
	}
	res := Accepted{Channel: ch, Previous: prev, Highest: prev}
	if v.Amount <= prev {
		return res, nil
	}
	if tx, ok := m.closing[ch.ID]; ok && m.chain.HasTx(tx) {
		return res, badRequest(fmt.Errorf("channel %s is being closed with a voucher for %d (transaction %s): a later voucher can no longer be redeemed", ch.ID, prev, tx))
	}
	if err := m.store.put(roleAccepted, v); err != nil {
		return res, err
	}
	res.Accepted, res.Highest = true, v.Amount
	m.paid[ch.ID] = struct{}{}
	if m.chain.Tip().Height+m.margin >= ch.Expiry {
		// Already within the close margin: close with it now.
		if _, err := m.closeLocked(ch, v, m.fee); err != nil {
			m.log.Warn("close payment channel before expiry", "channel", ch.ID, "expiry", ch.Expiry, "err", err)
		}
	}
	return res, nil
}

// voucherError words a voucher the chain refuses.
func voucherError(v ledger.Voucher, err error) error {
	var re *ledger.RuleError
	if !errors.As(err, &re) {
		return err
	}
	switch re.Code {
	case ledger.ErrNoSuchChannel:
		return &httpError{http.StatusNotFound, fmt.Errorf("voucher refused: %w (if it was just opened, wait for its opening to be mined)", err)}
	case ledger.ErrChannelNotPayee:
		return badRequest(fmt.Errorf("voucher refused: channel %s does not pay this node's wallet: %w", v.Channel, err))
	}
	return badRequest(fmt.Errorf("voucher refused: %w", err))
}

// Close submits the close of channel id, which pays this node, with the
// highest voucher it accepted, and returns the close's id and that
// voucher. When a close of it is already pending it returns that one.
func (m *ChannelManager) Close(id ledger.Hash, fee uint64) (ledger.Hash, ledger.Voucher, error) {
	ch, err := m.channel(id)
	if err != nil {
		return ledger.Hash{}, ledger.Voucher{}, err
	}
	if ch.Payee != m.me {
		if m.payerOf(ch) {
			return ledger.Hash{}, ledger.Voucher{}, badRequest(fmt.Errorf("channel %s: only its payee closes it; this node pays it and takes the deposit back with 'myco channel refund' from height %d", id, ch.Expiry))
		}
		return ledger.Hash{}, ledger.Voucher{}, badRequest(fmt.Errorf("channel %s neither pays nor is paid by this node's wallet", id))
	}
	if ch.State != ledger.ChannelOpen {
		return ledger.Hash{}, ledger.Voucher{}, settledError(ch)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok, err := m.store.get(roleAccepted, id)
	if err != nil {
		return ledger.Hash{}, ledger.Voucher{}, err
	}
	if !ok {
		return ledger.Hash{}, ledger.Voucher{}, badRequest(fmt.Errorf("channel %s: this node accepted no voucher in it, so there is nothing to close with; its payer takes the deposit back from height %d", id, ch.Expiry))
	}
	tx, err := m.closeLocked(ch, v, fee)
	return tx, v, err
}

// closeLocked submits the close of ch with v, unless a close this node
// submitted is still pending; m.mu is held.
func (m *ChannelManager) closeLocked(ch ledger.Channel, v ledger.Voucher, fee uint64) (ledger.Hash, error) {
	if tx, ok := m.closing[ch.ID]; ok && m.chain.HasTx(tx) {
		return tx, nil
	}
	tx, err := m.chain.NewChannelClose(m.key, v, fee)
	if err != nil {
		return ledger.Hash{}, ledgerError(err)
	}
	id, err := m.submit(tx)
	if err != nil {
		return ledger.Hash{}, err
	}
	m.closing[ch.ID] = id
	m.log.Info("closing payment channel", "channel", ch.ID, "amount", v.Amount, "deposit", ch.Deposit, "expiry", ch.Expiry, "tx", id)
	return id, nil
}

// run closes the channels that pay this node as they come within the
// close margin of their expiry, at every new tip, until ctx ends (a
// voucher accepted within the margin closes its channel at once).
func (m *ChannelManager) run(ctx context.Context) {
	tips, unsubscribe := m.chain.SubscribeTip()
	defer unsubscribe()
	for {
		m.closeDue(m.chain.Tip().Height)
		select {
		case <-ctx.Done():
			return
		case <-tips:
		}
	}
}

// closeDue closes, with its highest accepted voucher, every open channel
// paying this node whose expiry is at most the close margin above height.
// A channel past its expiry is still closed: the close wins unless the
// payer's refund is on the chain first.
//
// It reads only the channels it accepted a voucher in that are open or
// settled less than settledWatch blocks deep (m.paid), not every voucher
// ever accepted; a reorganisation deeper than that which reopens a
// channel leaves it to Close or its next voucher.
func (m *ChannelManager) closeDue(height uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.paidLoaded {
		vs, err := m.store.all(roleAccepted)
		if err != nil {
			m.log.Warn("read accepted vouchers", "err", err)
			return
		}
		for _, v := range vs {
			m.paid[v.Channel] = struct{}{}
		}
		m.paidLoaded = true
	}
	for id := range m.paid {
		ch, err := m.chain.Channel(id)
		if errors.Is(err, ledger.ErrUnknownChannel) {
			continue // its opening was reorganised away; it may come back
		}
		if err != nil {
			m.log.Warn("read payment channel", "channel", id, "err", err)
			continue
		}
		if ch.State != ledger.ChannelOpen {
			delete(m.closing, ch.ID)
			if height >= ch.Settled+settledWatch {
				delete(m.paid, ch.ID)
			}
			continue
		}
		if height+m.margin < ch.Expiry {
			continue
		}
		v, ok, err := m.store.get(roleAccepted, id)
		if err != nil || !ok {
			m.log.Warn("read accepted voucher", "channel", id, "err", err)
			continue
		}
		if _, err := m.closeLocked(ch, v, m.fee); err != nil {
			m.log.Warn("close payment channel before expiry", "channel", ch.ID, "expiry", ch.Expiry, "err", err)
		}
	}
}

// issued and accepted return the highest voucher amounts this node issued
// and accepted in channel id (0 when none).
func (m *ChannelManager) issued(id ledger.Hash) (uint64, error) {
	return m.store.amount(roleIssued, id)
}

func (m *ChannelManager) accepted(id ledger.Hash) (uint64, error) {
	return m.store.amount(roleAccepted, id)
}
