package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/btcsuite/btcd/btcec/v2"
)

// This file holds unidirectional payment channels: their transactions'
// payloads, their records in the store, their consensus rules (each stated
// in one sentence above its check, as in validate.go) and the queries and
// builders the node uses. Vouchers, the off-chain payments, are in
// voucher.go.
//
// A channel's record and its two address index entries are index entries
// of the store, changed through the same view as accounts, so they are
// written in the block's one atomic batch and rewound by its undo record.

// Index key prefixes (see schema.go and names.go for the others).
const (
	prefixChannel      = 'C' // C channel id -> channel record (main chain)
	prefixChannelPayer = 'P' // P payer address | channel id -> empty (main chain)
	prefixChannelPayee = 'Q' // Q payee address | channel id -> empty (main chain)
)

func channelKey(id Hash) string { return string(prefixChannel) + string(id[:]) }

func channelAddrKey(prefix byte, a Address, id Hash) string {
	return string(prefix) + string(a[:]) + string(id[:])
}

// ErrUnknownChannel is wrapped when no channel with an id was opened on
// the main chain.
var ErrUnknownChannel = errors.New("unknown channel")

// ChannelState says where a channel is in its life.
type ChannelState uint8

const (
	// ChannelOpen: the deposit is locked; the payee may close, the payer
	// may top up, and refund from the expiry height on.
	ChannelOpen ChannelState = 1
	// ChannelClosed: the payee closed it with a voucher (Paid) and the
	// payer got the rest of the deposit.
	ChannelClosed ChannelState = 2
	// ChannelRefunded: the payer took the whole deposit back after expiry.
	ChannelRefunded ChannelState = 3
)

// String returns the state's name.
func (s ChannelState) String() string {
	switch s {
	case ChannelOpen:
		return "open"
	case ChannelClosed:
		return "closed"
	case ChannelRefunded:
		return "refunded"
	}
	return fmt.Sprintf("ChannelState(%d)", uint8(s))
}

// Channel is a payment channel on the main chain. Its id is the id of the
// transaction that opened it.
type Channel struct {
	ID Hash
	// PayerKey is the payer's x-only key: vouchers verify against it.
	PayerKey [PubKeySize]byte
	Payee    Address
	// Deposit is what the payer locked (the opening amount plus top-ups).
	Deposit uint64
	// Expiry is the height from which the payer may take the deposit back.
	Expiry uint64
	// Opened is the height of the block that opened the channel.
	Opened uint64
	State  ChannelState
	// Settled is the height of the close or refund (0 while open); Paid
	// is what the close's voucher paid the payee.
	Settled uint64
	Paid    uint64
}

// Payer returns the payer's address.
func (ch Channel) Payer() Address { return addressFromXOnly(ch.PayerKey[:]) }

const channelRecordSize = PubKeySize + AddressSize + 8 + 8 + 8 + 1 + 8 + 8

// encode lays out a record as: payer key, payee, deposit, expiry, opened
// (uint64), state (byte), settled, paid (uint64); little-endian.
func (ch Channel) encode() []byte {
	b := make([]byte, 0, channelRecordSize)
	b = append(b, ch.PayerKey[:]...)
	b = append(b, ch.Payee[:]...)
	b = binary.LittleEndian.AppendUint64(b, ch.Deposit)
	b = binary.LittleEndian.AppendUint64(b, ch.Expiry)
	b = binary.LittleEndian.AppendUint64(b, ch.Opened)
	b = append(b, byte(ch.State))
	b = binary.LittleEndian.AppendUint64(b, ch.Settled)
	return binary.LittleEndian.AppendUint64(b, ch.Paid)
}

func decodeChannel(id Hash, b []byte) (Channel, error) {
	if len(b) != channelRecordSize {
		return Channel{}, fmt.Errorf("decode channel %s: %d bytes, want %d", id, len(b), channelRecordSize)
	}
	ch := Channel{ID: id}
	copy(ch.PayerKey[:], b[0:32])
	copy(ch.Payee[:], b[32:52])
	ch.Deposit = binary.LittleEndian.Uint64(b[52:60])
	ch.Expiry = binary.LittleEndian.Uint64(b[60:68])
	ch.Opened = binary.LittleEndian.Uint64(b[68:76])
	ch.State = ChannelState(b[76])
	ch.Settled = binary.LittleEndian.Uint64(b[77:85])
	ch.Paid = binary.LittleEndian.Uint64(b[85:93])
	if ch.State < ChannelOpen || ch.State > ChannelRefunded {
		return Channel{}, fmt.Errorf("decode channel %s: state %d", id, b[76])
	}
	return ch, nil
}

// ChannelPayload is the payload of a channel transaction. Each kind
// carries some of its fields, in this order, and nothing else:
//
//	TxChannelOpen:   Expiry (uint64)                    8 bytes
//	TxChannelClose:  Channel, Voucher                   32 + VoucherSize bytes
//	TxChannelRefund: Channel                            32 bytes
//	TxChannelTopup:  Channel, Expiry (uint64)           40 bytes
//
// Integers are little-endian. The open's payee is the transaction's
// Recipient and its deposit the Amount; a top-up adds its Amount.
type ChannelPayload struct {
	Channel Hash
	Expiry  uint64
	Voucher Voucher
}

// channelPayloadSize returns the payload length of a channel kind, or
// false for another kind.
func channelPayloadSize(k TxKind) (int, bool) {
	switch k {
	case TxChannelOpen:
		return 8, true
	case TxChannelClose:
		return HashSize + VoucherSize, true
	case TxChannelRefund:
		return HashSize, true
	case TxChannelTopup:
		return HashSize + 8, true
	}
	return 0, false
}

// Encode returns the payload of a transaction of kind k: the fields that
// kind carries (the others are ignored).
func (p ChannelPayload) Encode(k TxKind) ([]byte, error) {
	n, ok := channelPayloadSize(k)
	if !ok {
		return nil, fmt.Errorf("encode channel payload: %s is not a channel transaction", k)
	}
	b := make([]byte, 0, n)
	if k != TxChannelOpen {
		b = append(b, p.Channel[:]...)
	}
	switch k {
	case TxChannelOpen, TxChannelTopup:
		b = binary.LittleEndian.AppendUint64(b, p.Expiry)
	case TxChannelClose:
		b = p.Voucher.Append(b)
	}
	return b, nil
}

// DecodeChannelPayload parses the payload of a transaction of kind k. It
// accepts exactly the layout of the kind, so the payload's bytes are a
// function of its fields.
func DecodeChannelPayload(k TxKind, b []byte) (ChannelPayload, error) {
	var p ChannelPayload
	n, ok := channelPayloadSize(k)
	if !ok {
		return p, fmt.Errorf("decode channel payload: %s is not a channel transaction", k)
	}
	if len(b) != n {
		return p, fmt.Errorf("decode %s payload: %d bytes, want %d", k, len(b), n)
	}
	if k != TxChannelOpen {
		copy(p.Channel[:], b[:HashSize])
		b = b[HashSize:]
	}
	switch k {
	case TxChannelOpen, TxChannelTopup:
		p.Expiry = binary.LittleEndian.Uint64(b)
	case TxChannelClose:
		v, err := DecodeVoucher(b)
		if err != nil {
			return ChannelPayload{}, err
		}
		p.Voucher = v
	}
	return p, nil
}

// isChannelKind reports whether k is one of the channel transactions.
func isChannelKind(k TxKind) bool {
	_, ok := channelPayloadSize(k)
	return ok
}

// checkChannelSanity applies the rules a channel transaction must meet on
// its own, whatever the chain state (see checkTxSanity).
func checkChannelSanity(tx *Tx, p *Params) error {
	pl, err := DecodeChannelPayload(tx.Kind, tx.Payload)
	// A channel transaction's payload is exactly the layout of its kind.
	if err != nil {
		return ruleErr(ErrBadChannelTx, "%v", err)
	}
	switch tx.Kind {
	case TxChannelOpen:
		// A channel locks a positive deposit.
		if tx.Amount == 0 {
			return ruleErr(ErrZeroAmount, "the deposit is zero: a channel locks at least 1 base unit")
		}
		// A channel pays a real address other than its payer's.
		if tx.Recipient.IsZero() || tx.Recipient == tx.SenderAddress() {
			return ruleErr(ErrBadRecipient, "a channel's payee must be a real address other than its payer")
		}
	case TxChannelTopup:
		// A top-up names no recipient: its amount goes into the channel.
		if !tx.Recipient.IsZero() {
			return ruleErr(ErrBadChannelTx, "top-up with a recipient")
		}
	case TxChannelClose, TxChannelRefund:
		// A close or refund moves none of its sender's coins and names no recipient: the channel says who gets what.
		if tx.Amount != 0 || !tx.Recipient.IsZero() {
			return ruleErr(ErrBadChannelTx, "%s with an amount or a recipient", tx.Kind)
		}
	}
	if tx.Kind != TxChannelClose {
		return nil
	}
	// A close's voucher is for the channel it closes.
	if pl.Voucher.Channel != pl.Channel {
		return ruleErr(ErrVoucherWrongChannel, "the voucher is for channel %s, the close is of %s", pl.Voucher.Channel, pl.Channel)
	}
	return pl.Voucher.checkChain(p)
}

// checkChain applies the network rule of a close's voucher.
func (v Voucher) checkChain(p *Params) error {
	// A close's voucher is signed for this network.
	if v.ChainID != p.ChainID {
		return ruleErr(ErrVoucherWrongChain, "the voucher is for chain %#x, this network (%s) is %#x", v.ChainID, p.Name, p.ChainID)
	}
	return nil
}

// channelOf returns the channel a close, refund or top-up names, or the
// zero hash for any other transaction (an open's channel does not exist
// before it).
func channelOf(tx *Tx) Hash {
	if !isChannelKind(tx.Kind) || tx.Kind == TxChannelOpen || len(tx.Payload) < HashSize {
		return Hash{}
	}
	return Hash(tx.Payload[:HashSize])
}

// settlesChannel reports whether a transaction of kind k pays out a
// channel's deposit (a close or a refund); applyTx settles it before it
// charges the fee, so a payee with no coins yet can pay the fee from what
// the close pays it.
func settlesChannel(k TxKind) bool { return k == TxChannelClose || k == TxChannelRefund }

// channelFor decodes a close's, refund's or top-up's payload and reads
// the record of the channel it names from v.
func channelFor(v stateReader, tx *Tx) (ChannelPayload, Channel, error) {
	pl, err := DecodeChannelPayload(tx.Kind, tx.Payload)
	if err != nil {
		return pl, Channel{}, ruleErr(ErrBadChannelTx, "%v", err) // checkTxSanity has ruled this out
	}
	ch, err := readChannel(v, pl.Channel)
	return pl, ch, err
}

// readChannel reads the record of channel id from v.
func readChannel(v stateReader, id Hash) (Channel, error) {
	val, ok, err := v.indexValue(channelKey(id))
	if err != nil {
		return Channel{}, fmt.Errorf("channel %s: %w", id, err)
	}
	// A close, refund or top-up names a channel an open created on this chain.
	if !ok {
		return Channel{}, ruleErr(ErrNoSuchChannel, "no channel %s on this chain", id)
	}
	return decodeChannel(id, val)
}

// checkExpiry applies the rule of an open's or top-up's new expiry.
func checkExpiry(expiry uint64, bc blockCtx) error {
	// A channel's expiry, when it opens or is topped up, is above the height of the block.
	if expiry <= bc.height {
		return ruleErr(ErrChannelExpiryTooSoon, "expiry %d is not above the block's height %d", expiry, bc.height)
	}
	return nil
}

// checkOpen returns the rejection of a transaction on a channel that is no
// longer open.
func (ch Channel) checkOpen() error {
	switch ch.State {
	case ChannelClosed:
		return ruleErr(ErrChannelClosed, "channel %s was closed at height %d", ch.ID, ch.Settled)
	case ChannelRefunded:
		return ruleErr(ErrChannelRefunded, "channel %s was refunded at height %d", ch.ID, ch.Settled)
	}
	return nil
}

// applyChannelOpen records a new channel; applyTx has already moved the
// deposit out of the payer's balance.
func applyChannelOpen(v *view, tx *Tx, bc blockCtx) error {
	pl, err := DecodeChannelPayload(tx.Kind, tx.Payload)
	if err != nil {
		return ruleErr(ErrBadChannelTx, "%v", err) // checkTxSanity has ruled this out
	}
	if err := checkExpiry(pl.Expiry, bc); err != nil {
		return err
	}
	ch := Channel{ID: tx.ID(), PayerKey: tx.Sender, Payee: tx.Recipient, Deposit: tx.Amount, Expiry: pl.Expiry, Opened: bc.height, State: ChannelOpen}
	v.setIndex(channelKey(ch.ID), ch.encode(), true)
	v.setIndex(channelAddrKey(prefixChannelPayer, ch.Payer(), ch.ID), nil, true)
	v.setIndex(channelAddrKey(prefixChannelPayee, ch.Payee, ch.ID), nil, true)
	return nil
}

// applyChannelTopup adds a top-up's amount (already moved out of the
// payer's balance) to the deposit and sets the new expiry.
func applyChannelTopup(v *view, tx *Tx, bc blockCtx) error {
	pl, ch, err := channelFor(v, tx)
	if err != nil {
		return err
	}
	// Only the channel's payer tops it up.
	if tx.Sender != ch.PayerKey {
		return ruleErr(ErrChannelNotPayer, "channel %s is paid by %x, the top-up is from %x", ch.ID, ch.PayerKey, tx.Sender)
	}
	// A channel is topped up only while it is open.
	if err := ch.checkOpen(); err != nil {
		return err
	}
	if err := checkExpiry(pl.Expiry, bc); err != nil {
		return err
	}
	// A top-up never brings a channel's expiry closer.
	if pl.Expiry < ch.Expiry {
		return ruleErr(ErrChannelExpiryShortened, "expiry %d is before the channel's %d", pl.Expiry, ch.Expiry)
	}
	sum, carry := bits.Add64(ch.Deposit, tx.Amount, 0)
	// A channel's deposit must not overflow 64 bits.
	if carry != 0 {
		return ruleErr(ErrOverflow, "deposit %d plus %d overflows", ch.Deposit, tx.Amount)
	}
	ch.Deposit, ch.Expiry = sum, pl.Expiry
	v.setIndex(channelKey(ch.ID), ch.encode(), true)
	return nil
}

// settleChannel applies a close or a refund: it pays out the deposit and
// marks the channel settled. applyTx calls it after the nonce check and
// before it charges the fee.
func settleChannel(v *view, tx *Tx, bc blockCtx) error {
	pl, ch, err := channelFor(v, tx)
	if err != nil {
		return err
	}
	payer := ch.Payer()
	if tx.Kind == TxChannelRefund {
		// Only the channel's payer takes its deposit back.
		if tx.Sender != ch.PayerKey {
			return ruleErr(ErrChannelNotPayer, "channel %s is paid by %x, the refund is from %x", ch.ID, ch.PayerKey, tx.Sender)
		}
		// A deposit is refunded only while the channel is open: never after a close or a refund.
		if err := ch.checkOpen(); err != nil {
			return err
		}
		// A refund comes at or after the channel's expiry height.
		if bc.height < ch.Expiry {
			return ruleErr(ErrChannelNotExpired, "channel %s expires at height %d, the refund is at %d", ch.ID, ch.Expiry, bc.height)
		}
		ch.State, ch.Settled = ChannelRefunded, bc.height
		v.setIndex(channelKey(ch.ID), ch.encode(), true)
		return creditNonZero(v, payer, ch.Deposit)
	}
	vo := pl.Voucher
	if err := ch.checkClose(tx.SenderAddress(), vo, bc.sigs, bc.sigUse); err != nil {
		return err
	}
	ch.State, ch.Settled, ch.Paid = ChannelClosed, bc.height, vo.Amount
	v.setIndex(channelKey(ch.ID), ch.encode(), true)
	if err := creditNonZero(v, ch.Payee, vo.Amount); err != nil {
		return err
	}
	return creditNonZero(v, payer, ch.Deposit-vo.Amount)
}

// checkClose applies the rules of a close of ch by from with vo that
// depend on the channel (the voucher's channel and chain are sanity
// rules), verifying the voucher's signature through cache (see
// sigCache.check) once the cheaper rules have passed.
func (ch Channel) checkClose(from Address, vo Voucher, cache *sigCache, use sigUse) error {
	// Only the channel's payee closes it.
	if from != ch.Payee {
		return ruleErr(ErrChannelNotPayee, "channel %s pays %x, the close is from %x", ch.ID, ch.Payee, from)
	}
	// A channel is closed only while it is open: never twice, never after a refund.
	if err := ch.checkOpen(); err != nil {
		return err
	}
	// A voucher pays at most the channel's deposit.
	if vo.Amount > ch.Deposit {
		return ruleErr(ErrVoucherOverDeposit, "the voucher pays %d, the deposit is %d", vo.Amount, ch.Deposit)
	}
	// A voucher is signed by the channel's payer.
	return vo.verify(ch.PayerKey, cache, use)
}

// creditNonZero credits amount to a, leaving a untouched when it is zero
// (so an unchanged account is not in the block's undo record).
func creditNonZero(v *view, a Address, amount uint64) error {
	if amount == 0 {
		return nil
	}
	return credit(v, a, amount)
}

// Channel returns the channel with the given id on the main chain, or an
// error wrapping ErrUnknownChannel.
func (c *Chain) Channel(id Hash) (Channel, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	val, ok, err := c.indexValue(channelKey(id))
	if err != nil {
		return Channel{}, fmt.Errorf("channel %s: %w", id, err)
	}
	if !ok {
		return Channel{}, fmt.Errorf("channel %s: %w", id, ErrUnknownChannel)
	}
	return decodeChannel(id, val)
}

// CheckVoucher reports whether payee could close v's channel with v on
// the main chain now: the channel exists, is open and pays payee, and v is
// for this network, within the deposit and signed by the payer. A payee
// checks each voucher it receives with it (whether the channel lives long
// enough is its own policy: see Channel.Expiry). It returns the channel;
// a rejection is a *RuleError with the code a close would get.
func (c *Chain) CheckVoucher(v Voucher, payee Address) (Channel, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := v.checkChain(c.p); err != nil {
		return Channel{}, err
	}
	ch, err := readChannel(c, v.Channel)
	if err != nil {
		return Channel{}, err
	}
	// Not through the signature cache: the vouchers a payee receives are
	// new, one per payment, and would only crowd out the mempool's.
	return ch, ch.checkClose(payee, v, nil, sigKeep)
}

// Channels returns every channel on the main chain (open, closed and
// refunded), in id order.
func (c *Chain) Channels() ([]Channel, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Channel
	err := c.store.Iterate([]byte{prefixChannel}, func(k, v []byte) error {
		if len(k) != 1+HashSize {
			return fmt.Errorf("channel key %x: bad length", k)
		}
		ch, err := decodeChannel(Hash(k[1:]), v)
		if err != nil {
			return err
		}
		out = append(out, ch)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	return out, nil
}

// ChannelsOf returns the channels on the main chain that a pays (as payer)
// and that pay a (as payee), each in id order, settled ones included.
func (c *Chain) ChannelsOf(a Address) (pays, paid []Channel, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if pays, err = c.channelsBy(prefixChannelPayer, a); err != nil {
		return nil, nil, err
	}
	if paid, err = c.channelsBy(prefixChannelPayee, a); err != nil {
		return nil, nil, err
	}
	return pays, paid, nil
}

// channelsBy returns the channels of one address index, in id order.
func (c *Chain) channelsBy(prefix byte, a Address) ([]Channel, error) {
	var ids []Hash
	err := c.store.Iterate(append([]byte{prefix}, a[:]...), func(k, _ []byte) error {
		if len(k) != 1+AddressSize+HashSize {
			return fmt.Errorf("channel index key %x: bad length", k)
		}
		ids = append(ids, Hash(k[1+AddressSize:]))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("channels of %x: %w", a, err)
	}
	out := make([]Channel, 0, len(ids))
	for _, id := range ids {
		val, ok, err := c.indexValue(channelKey(id))
		if err != nil {
			return nil, fmt.Errorf("channels of %x: %w", a, err)
		}
		if !ok {
			return nil, fmt.Errorf("channels of %x: index names channel %s, which has no record", a, id)
		}
		ch, err := decodeChannel(id, val)
		if err != nil {
			return nil, err
		}
		out = append(out, ch)
	}
	return out, nil
}

// LockedInChannels returns the deposits a has locked in its open channels
// as payer on the main chain: coins that are a's but not in its balance
// until a close pays back the rest or a refund all of it.
func (c *Chain) LockedInChannels(a Address) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	chans, err := c.channelsBy(prefixChannelPayer, a)
	if err != nil {
		return 0, err
	}
	var locked uint64
	for _, ch := range chans {
		if ch.State == ChannelOpen {
			locked += ch.Deposit // all coins ever mined fit in 64 bits
		}
	}
	return locked, nil
}

// NewChannelOpen builds and signs the opening of a channel from key's
// address to payee, locking deposit until the expiry height (which must
// be above the height of the block that takes it), with the next nonce.
// The channel's id is the returned transaction's ID.
func (c *Chain) NewChannelOpen(key *btcec.PrivateKey, payee Address, deposit, expiry, fee uint64) (*Tx, error) {
	payload, _ := ChannelPayload{Expiry: expiry}.Encode(TxChannelOpen)
	tx := &Tx{ChainID: c.p.ChainID, Kind: TxChannelOpen, Recipient: payee, Amount: deposit, Fee: fee, Payload: payload}
	return c.signNext(key, tx)
}

// NewChannelClose builds and signs the payee's close of v's channel with
// v, the highest voucher it holds.
func (c *Chain) NewChannelClose(key *btcec.PrivateKey, v Voucher, fee uint64) (*Tx, error) {
	payload, _ := ChannelPayload{Channel: v.Channel, Voucher: v}.Encode(TxChannelClose)
	tx := &Tx{ChainID: c.p.ChainID, Kind: TxChannelClose, Fee: fee, Payload: payload}
	return c.signNext(key, tx)
}

// NewChannelRefund builds and signs the payer's refund of channel id,
// valid in blocks at or above the channel's expiry height.
func (c *Chain) NewChannelRefund(key *btcec.PrivateKey, id Hash, fee uint64) (*Tx, error) {
	payload, _ := ChannelPayload{Channel: id}.Encode(TxChannelRefund)
	tx := &Tx{ChainID: c.p.ChainID, Kind: TxChannelRefund, Fee: fee, Payload: payload}
	return c.signNext(key, tx)
}

// NewChannelTopup builds and signs the payer's top-up of channel id: add
// more deposit (may be zero) and a new expiry, no earlier than the
// channel's.
func (c *Chain) NewChannelTopup(key *btcec.PrivateKey, id Hash, add, expiry, fee uint64) (*Tx, error) {
	payload, _ := ChannelPayload{Channel: id, Expiry: expiry}.Encode(TxChannelTopup)
	tx := &Tx{ChainID: c.p.ChainID, Kind: TxChannelTopup, Amount: add, Fee: fee, Payload: payload}
	return c.signNext(key, tx)
}
