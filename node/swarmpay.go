package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/swarm"
)

// This file joins the swarm's payments to the node's channels: the
// vouchers a priced peer is paid with as a fetch goes (payPeer), and the
// ones this node, when priced, is paid with (acceptPayment).
//
// A fetch with a budget pays through one channel per payee: it reuses an
// open channel of this wallet to the payee whose deposit still covers the
// payment and that lives at least twice the close margin longer, and
// otherwise opens one whose deposit is the fetch's remaining budget and
// waits until the opening is on the main chain (a block). Opens to one
// payee are made one at a time, so peers and fetches paying the same
// payee share a channel.

// payPeer returns a voucher paying req.Amount to req.PayTo (swarm.PayFunc).
func (n *Node) payPeer(ctx context.Context, req swarm.PayRequest) ([]byte, error) {
	return n.channels.payPeer(ctx, req, n.channelExpiry())
}

// acceptPayment keeps a voucher a peer paid this node with
// (swarm.AcceptFunc).
func (n *Node) acceptPayment(from peer.ID, b []byte) (uint64, error) {
	return n.channels.acceptPayment(from, b)
}

// payPeer returns a voucher paying req.Amount to req.PayTo through a
// channel that lives life blocks when it has to be opened.
func (m *ChannelManager) payPeer(ctx context.Context, req swarm.PayRequest, life uint64) ([]byte, error) {
	var payee ledger.Address
	if len(req.PayTo) != len(payee) {
		return nil, fmt.Errorf("peer %s announced a payee of %d bytes, not an address", req.Peer, len(req.PayTo))
	}
	copy(payee[:], req.PayTo)
	if payee == m.me {
		return nil, errors.New("the peer's payee is this node's own wallet")
	}
	id, err := m.channelTo(ctx, payee, req.Amount, max(req.Budget, req.Amount), life)
	if err != nil {
		return nil, err
	}
	v, err := m.PayerVoucher(id, req.Amount)
	if err != nil {
		return nil, err
	}
	return v.Encode(), nil
}

// acceptPayment keeps a voucher a peer paid this node with, durably, and
// returns what it added.
func (m *ChannelManager) acceptPayment(from peer.ID, b []byte) (uint64, error) {
	v, err := ledger.DecodeVoucher(b)
	if err != nil {
		return 0, fmt.Errorf("voucher from %s: %w", from, err)
	}
	acc, err := m.PayeeAccept(v)
	if err != nil {
		return 0, err
	}
	return acc.Added(), nil
}

// channelExpiry is how many blocks a channel lives when its opener gives
// no expiry: one opened for a fetch, or by `channel open`.
func (n *Node) channelExpiry() uint64 {
	if n.network == ledger.NetworkMain {
		return DefaultChannelExpiryMain
	}
	return DefaultChannelExpiryDev
}

// channelTo returns an open channel from this wallet to payee that can
// pay amount more, opening one with deposit (and life blocks to expiry)
// when there is none, and waiting until its opening is on the main chain.
func (m *ChannelManager) channelTo(ctx context.Context, payee ledger.Address, amount, deposit, life uint64) (ledger.Hash, error) {
	id, err := m.openFor(payee, amount, deposit, life)
	if err != nil {
		return ledger.Hash{}, err
	}
	// The wait for the opening to be mined is outside openMu: paying
	// another payee through a channel that is open waits for nobody.
	done := func() {
		m.openMu.Lock()
		if m.opening[payee] == id {
			delete(m.opening, payee)
		}
		m.openMu.Unlock()
	}
	tips, unsubscribe := m.chain.SubscribeTip()
	defer unsubscribe()
	for {
		ch, err := m.chain.Channel(id)
		if err == nil && ch.State == ledger.ChannelOpen {
			done()
			return id, nil
		}
		if err == nil {
			done()
			return ledger.Hash{}, fmt.Errorf("channel %s to %s was settled before it paid anything", id, payee.Encode(m.params))
		}
		if !m.chain.HasTx(id) {
			// Neither mined nor pending: a reorganisation or the
			// mempool dropped the opening.
			done()
			return ledger.Hash{}, fmt.Errorf("the opening of channel %s to %s is no longer pending", id, payee.Encode(m.params))
		}
		select {
		case <-tips:
		case <-ctx.Done():
			return ledger.Hash{}, fmt.Errorf("waiting for channel %s to open: %w", id, ctx.Err())
		}
	}
}

// openFor returns a usable channel to payee (usableChannel), or the one
// being opened to it, or submits the opening of a new one; openMu orders
// these, so that payments to one payee share one opening.
func (m *ChannelManager) openFor(payee ledger.Address, amount, deposit, life uint64) (ledger.Hash, error) {
	m.openMu.Lock()
	defer m.openMu.Unlock()
	if id, ok, err := m.usableChannel(payee, amount); err != nil || ok {
		return id, err
	}
	if id, pending := m.opening[payee]; pending && m.chain.HasTx(id) {
		return id, nil
	}
	tip := m.chain.Tip().Height
	tx, err := m.chain.NewChannelOpen(m.key, payee, deposit, tip+max(life, 2*m.margin+1), 0)
	if err != nil {
		return ledger.Hash{}, fmt.Errorf("open a channel of %s coins to pay %s: %w", ledger.FormatCoins(deposit), payee.Encode(m.params), err)
	}
	if _, err := m.submit(tx); err != nil {
		return ledger.Hash{}, fmt.Errorf("open a channel to pay %s: %w", payee.Encode(m.params), err)
	}
	id := tx.ID()
	m.opening[payee] = id
	m.log.Info("opened a channel to pay a peer", "channel", id, "payee", payee.Encode(m.params), "deposit", ledger.FormatCoins(deposit))
	return id, nil
}

// usableChannel finds an open channel from this wallet to payee whose
// deposit covers amount more than it promised, living at least twice the
// close margin longer.
func (m *ChannelManager) usableChannel(payee ledger.Address, amount uint64) (ledger.Hash, bool, error) {
	pays, _, err := m.chain.ChannelsOf(m.me)
	if err != nil {
		return ledger.Hash{}, false, err
	}
	tip := m.chain.Tip().Height
	for _, ch := range pays {
		if ch.Payee != payee || ch.State != ledger.ChannelOpen || ch.Expiry <= tip+2*m.margin {
			continue
		}
		promised, err := m.issued(ch.ID)
		if err != nil {
			return ledger.Hash{}, false, err
		}
		if promised <= ch.Deposit && ch.Deposit-promised >= amount {
			return ch.ID, true, nil
		}
	}
	return ledger.Hash{}, false, nil
}
