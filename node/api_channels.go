package node

import (
	"encoding/hex"
	"fmt"
	"math"
	"net/http"

	"github.com/myco-p2p/myco/ledger"
)

// This file holds the payment channels' part of the API: open, list,
// close, refund and top up a channel, and sign or accept a voucher by
// hand (the swarm calls the ChannelManager directly). Amounts are base
// units; expiries given in requests are blocks from the tip.

// Default channel lives, in blocks from the tip, for `channel open`
// without --expiry: a day on main, 100 seconds on dev.
const (
	DefaultChannelExpiryMain = 1440
	DefaultChannelExpiryDev  = 100
)

// maxChannelExpiry bounds an expiry in blocks (about 8000 years on main).
const maxChannelExpiry = 1 << 32

// ChannelJSON is one channel of `myco channel list --json`.
type ChannelJSON struct {
	ID string `json:"id"`
	// Role is "payer" or "payee": what this node's wallet is in it.
	Role string `json:"role"`
	// Counterparty is the other side's address.
	Counterparty string `json:"counterparty"`
	Deposit      uint64 `json:"deposit"`
	// Expiry is the height from which the payer may take the deposit
	// back; ExpiresIn the blocks from the tip to it (negative once past).
	Expiry    uint64 `json:"expiry"`
	ExpiresIn int64  `json:"expires_in"`
	// Opened is the height of the opening block (0 while pending).
	Opened uint64 `json:"opened,omitempty"`
	// State is "pending" (the opening is not mined yet), "open",
	// "closed" or "refunded".
	State string `json:"state"`
	// HighestVoucher is, for a payer, the highest cumulative amount it
	// signed; for a payee, the highest it accepted.
	HighestVoucher uint64 `json:"highest_voucher"`
	// Paid is what the close paid the payee (0 until closed).
	Paid uint64 `json:"paid"`
	// Settled is the height of the close or refund.
	Settled uint64 `json:"settled,omitempty"`
	// SettlingTx is a pending close or refund of the channel.
	SettlingTx string `json:"settling_tx,omitempty"`
}

// ChannelOpenRequest is the body of POST /api/v0/channel/open.
type ChannelOpenRequest struct {
	Payee   string `json:"payee"`
	Deposit string `json:"deposit"`
	// Expiry is the channel's life in blocks from the tip (0: the
	// network's default).
	Expiry uint64 `json:"expiry,omitempty"`
	Fee    string `json:"fee,omitempty"`
}

// ChannelTxRequest is the body of POST /api/v0/channel/close and
// /api/v0/channel/refund.
type ChannelTxRequest struct {
	Channel string `json:"channel"`
	Fee     string `json:"fee,omitempty"`
}

// ChannelTopupRequest is the body of POST /api/v0/channel/topup.
type ChannelTopupRequest struct {
	Channel string `json:"channel"`
	Amount  string `json:"amount"`
	// Expiry, when set, moves the expiry to this many blocks from the tip
	// (never earlier than it is).
	Expiry uint64 `json:"expiry,omitempty"`
	Fee    string `json:"fee,omitempty"`
}

// ChannelTxJSON answers an open, close, refund or top-up: the channel,
// the submitted transaction, and the amount it moves: the deposit of an
// open or refund, the voucher a close carries, what a top-up adds.
// Expiry is the channel's expiry height after an open or top-up.
type ChannelTxJSON struct {
	Channel string `json:"channel"`
	TxID    string `json:"txid"`
	Amount  uint64 `json:"amount"`
	Expiry  uint64 `json:"expiry,omitempty"`
}

// ChannelPayRequest is the body of POST /api/v0/channel/pay.
type ChannelPayRequest struct {
	Channel string `json:"channel"`
	// Amount is what to pay on top of the vouchers signed before.
	Amount string `json:"amount"`
}

// VoucherJSON answers a pay: the voucher (hex of its encoding), its
// cumulative amount and what it adds.
type VoucherJSON struct {
	Channel string `json:"channel"`
	Amount  uint64 `json:"amount"`
	Added   uint64 `json:"added"`
	Voucher string `json:"voucher"`
}

// VoucherAcceptRequest is the body of POST /api/v0/channel/accept.
type VoucherAcceptRequest struct {
	Voucher string `json:"voucher"` // hex
}

// AcceptJSON answers an accept: whether the voucher is now the channel's
// highest (a voucher at or below the highest is ignored), the highest
// before and now, and the channel's deposit and expiry.
type AcceptJSON struct {
	Channel  string `json:"channel"`
	Amount   uint64 `json:"amount"`
	Accepted bool   `json:"accepted"`
	Previous uint64 `json:"previous"`
	Highest  uint64 `json:"highest"`
	Deposit  uint64 `json:"deposit"`
	Expiry   uint64 `json:"expiry"`
}

// Channels returns the channel manager, for the services that pay and
// are paid through channels.
func (n *Node) Channels() *ChannelManager { return n.channels }

func parseChannelID(s string) (ledger.Hash, error) {
	h, err := ledger.ParseHash(s)
	if err != nil {
		return h, badRequest(fmt.Errorf("channel %q: want the 64-digit hex id 'myco channel open' printed", s))
	}
	return h, nil
}

// parseFee parses an optional fee ("" is 0).
func parseFee(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	fee, err := ledger.ParseAmount(s)
	if err != nil {
		return 0, badRequest(fmt.Errorf("fee: %w", err))
	}
	return fee, nil
}

// ParseVoucher decodes a voucher from the hex `myco channel pay` prints.
func ParseVoucher(s string) (ledger.Voucher, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != ledger.VoucherSize {
		return ledger.Voucher{}, fmt.Errorf("voucher: want the %d hex digits 'myco channel pay' printed", 2*ledger.VoucherSize)
	}
	return ledger.DecodeVoucher(b)
}

// OpenChannel submits the opening of a channel from the node's wallet.
func (n *Node) OpenChannel(req ChannelOpenRequest) (ChannelTxJSON, error) {
	payee, err := ledger.DecodeAddress(req.Payee, n.network.Params())
	if err != nil {
		return ChannelTxJSON{}, badRequest(fmt.Errorf("payee: %w", err))
	}
	deposit, err := ledger.ParseAmount(req.Deposit)
	if err != nil {
		return ChannelTxJSON{}, badRequest(fmt.Errorf("deposit: %w", err))
	}
	fee, err := parseFee(req.Fee)
	if err != nil {
		return ChannelTxJSON{}, err
	}
	blocks := req.Expiry
	if blocks == 0 {
		blocks = n.channelExpiry()
	}
	if margin := n.channels.margin; blocks <= margin || blocks > maxChannelExpiry {
		return ChannelTxJSON{}, badRequest(fmt.Errorf("expiry %d blocks: want more than %d (payees close %d blocks before expiry by default) and at most %d",
			blocks, margin, margin, uint64(maxChannelExpiry)))
	}
	expiry := n.chain.Tip().Height + blocks
	tx, err := n.chain.NewChannelOpen(n.walletKey, payee, deposit, expiry, fee)
	if err != nil {
		return ChannelTxJSON{}, ledgerError(err)
	}
	id, err := n.submitTx(tx)
	if err != nil {
		return ChannelTxJSON{}, err
	}
	return ChannelTxJSON{Channel: id.TxID, TxID: id.TxID, Amount: deposit, Expiry: expiry}, nil
}

// parse reads the channel id and the fee of a close or refund.
func (req ChannelTxRequest) parse() (ledger.Hash, uint64, error) {
	id, err := parseChannelID(req.Channel)
	if err != nil {
		return id, 0, err
	}
	fee, err := parseFee(req.Fee)
	return id, fee, err
}

// CloseChannel submits the close of a channel paying the node, with the
// highest voucher it accepted.
func (n *Node) CloseChannel(req ChannelTxRequest) (ChannelTxJSON, error) {
	id, fee, err := req.parse()
	if err != nil {
		return ChannelTxJSON{}, err
	}
	tx, v, err := n.channels.Close(id, fee)
	if err != nil {
		return ChannelTxJSON{}, err
	}
	return ChannelTxJSON{Channel: id.String(), TxID: tx.String(), Amount: v.Amount}, nil
}

// RefundChannel submits the refund of an expired channel the node pays.
func (n *Node) RefundChannel(req ChannelTxRequest) (ChannelTxJSON, error) {
	id, fee, err := req.parse()
	if err != nil {
		return ChannelTxJSON{}, err
	}
	ch, err := n.channels.payerChannel(id)
	if err != nil {
		return ChannelTxJSON{}, err
	}
	// A refund is valid in blocks at or above the expiry: the next block
	// is the tip's height plus one.
	if tip := n.chain.Tip().Height; tip+1 < ch.Expiry {
		return ChannelTxJSON{}, badRequest(fmt.Errorf("channel %s expires at height %d and the tip is at %d: a refund is valid from then on (until then its payee may close it)",
			id, ch.Expiry, tip))
	}
	tx, err := n.chain.NewChannelRefund(n.walletKey, id, fee)
	if err != nil {
		return ChannelTxJSON{}, ledgerError(err)
	}
	res, err := n.submitTx(tx)
	if err != nil {
		return ChannelTxJSON{}, err
	}
	return ChannelTxJSON{Channel: id.String(), TxID: res.TxID, Amount: ch.Deposit}, nil
}

// TopupChannel submits a top-up of a channel the node pays.
func (n *Node) TopupChannel(req ChannelTopupRequest) (ChannelTxJSON, error) {
	id, err := parseChannelID(req.Channel)
	if err != nil {
		return ChannelTxJSON{}, err
	}
	add, err := ledger.ParseAmount(req.Amount)
	if err != nil {
		return ChannelTxJSON{}, badRequest(fmt.Errorf("amount: %w", err))
	}
	fee, err := parseFee(req.Fee)
	if err != nil {
		return ChannelTxJSON{}, err
	}
	if req.Expiry > maxChannelExpiry {
		return ChannelTxJSON{}, badRequest(fmt.Errorf("expiry %d blocks: want at most %d", req.Expiry, uint64(maxChannelExpiry)))
	}
	ch, err := n.channels.payerChannel(id)
	if err != nil {
		return ChannelTxJSON{}, err
	}
	expiry := ch.Expiry
	if req.Expiry > 0 {
		expiry = max(expiry, n.chain.Tip().Height+req.Expiry)
	}
	tx, err := n.chain.NewChannelTopup(n.walletKey, id, add, expiry, fee)
	if err != nil {
		return ChannelTxJSON{}, ledgerError(err)
	}
	res, err := n.submitTx(tx)
	if err != nil {
		return ChannelTxJSON{}, err
	}
	return ChannelTxJSON{Channel: id.String(), TxID: res.TxID, Amount: add, Expiry: expiry}, nil
}

// PayChannel signs a voucher paying amount more in a channel the node
// pays (ChannelManager.PayerVoucher).
func (n *Node) PayChannel(req ChannelPayRequest) (VoucherJSON, error) {
	id, err := parseChannelID(req.Channel)
	if err != nil {
		return VoucherJSON{}, err
	}
	amount, err := ledger.ParseAmount(req.Amount)
	if err != nil {
		return VoucherJSON{}, badRequest(fmt.Errorf("amount: %w", err))
	}
	v, err := n.channels.PayerVoucher(id, amount)
	if err != nil {
		return VoucherJSON{}, err
	}
	return VoucherJSON{Channel: id.String(), Amount: v.Amount, Added: amount, Voucher: hex.EncodeToString(v.Encode())}, nil
}

// AcceptVoucher keeps a voucher received as payee
// (ChannelManager.PayeeAccept).
func (n *Node) AcceptVoucher(req VoucherAcceptRequest) (AcceptJSON, error) {
	v, err := ParseVoucher(req.Voucher)
	if err != nil {
		return AcceptJSON{}, badRequest(err)
	}
	a, err := n.channels.PayeeAccept(v)
	if err != nil {
		return AcceptJSON{}, err
	}
	return AcceptJSON{
		Channel:  v.Channel.String(),
		Amount:   v.Amount,
		Accepted: a.Accepted,
		Previous: a.Previous,
		Highest:  a.Highest,
		Deposit:  a.Channel.Deposit,
		Expiry:   a.Channel.Expiry,
	}, nil
}

// ListChannels lists the channels the node's wallet pays or is paid
// through: those on the main chain (settled ones too), then those whose
// opening is pending.
func (n *Node) ListChannels() ([]ChannelJSON, error) {
	m := n.channels
	p := n.network.Params()
	pays, paid, err := n.chain.ChannelsOf(m.me)
	if err != nil {
		return nil, err
	}
	tip := n.chain.Tip().Height
	settling := map[ledger.Hash]string{}
	var pending []ChannelJSON
	for _, tx := range n.chain.MempoolTxs() {
		switch tx.Kind {
		case ledger.TxChannelClose, ledger.TxChannelRefund:
			pl, err := ledger.DecodeChannelPayload(tx.Kind, tx.Payload)
			if err == nil {
				settling[pl.Channel] = tx.ID().String()
			}
		case ledger.TxChannelOpen:
			from := tx.SenderAddress()
			if from != m.me && tx.Recipient != m.me {
				continue
			}
			pl, err := ledger.DecodeChannelPayload(tx.Kind, tx.Payload)
			if err != nil {
				continue
			}
			c := ChannelJSON{ID: tx.ID().String(), Role: "payer", Counterparty: tx.Recipient.Encode(p),
				Deposit: tx.Amount, Expiry: pl.Expiry, ExpiresIn: blocksTo(tip, pl.Expiry), State: "pending"}
			if from != m.me {
				c.Role, c.Counterparty = "payee", from.Encode(p)
			}
			pending = append(pending, c)
		}
	}
	out := make([]ChannelJSON, 0, len(pays)+len(paid)+len(pending))
	for i, list := range [][]ledger.Channel{pays, paid} {
		for _, ch := range list {
			c := ChannelJSON{ID: ch.ID.String(), Role: "payer", Counterparty: ch.Payee.Encode(p),
				Deposit: ch.Deposit, Expiry: ch.Expiry, ExpiresIn: blocksTo(tip, ch.Expiry), Opened: ch.Opened,
				State: ch.State.String(), Paid: ch.Paid, Settled: ch.Settled, SettlingTx: settling[ch.ID]}
			highest := m.issued
			if i == 1 {
				c.Role, c.Counterparty, highest = "payee", ch.Payer().Encode(p), m.accepted
			}
			if c.HighestVoucher, err = highest(ch.ID); err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	return append(out, pending...), nil
}

// blocksTo is the signed distance from the tip to a height.
func blocksTo(tip, height uint64) int64 {
	if height >= tip {
		return int64(min(height-tip, math.MaxInt64))
	}
	return -int64(min(tip-height, math.MaxInt64))
}

func (s *APIServer) listChannels(*http.Request) (any, error) { return s.node.ListChannels() }
