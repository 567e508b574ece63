package swarm

import (
	"context"
	"errors"
	"math"
	"math/bits"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Payments (see the package doc): a priced node charges the peers that
// said they pay for every leaf it sends them and serves each at most
// payCredit bytes ahead of its payments; a paying node pays a peer for
// every leaf it received from it, once it owes payStep bytes' worth and
// for the rest when the session with the peer ends.
const (
	// payStep is how much a payer lets its debt to a peer grow before it
	// pays: a voucher every four 1 MiB leaves.
	payStep = 4 << 20
	// payCredit is how far a priced node serves a paying peer ahead of its
	// payments: two steps, so that a payer paying on time never waits.
	payCredit = 2 * payStep
	// maxPayAccounts bounds the peers a priced node keeps an account of:
	// beyond it, the account of a peer gone with a debt is forgotten (at
	// most payCredit's worth lost).
	maxPayAccounts = 1024
)

// errUnpaid: a paying peer fell behind in payment.
var errUnpaid = errors.New("peer fell behind in payment")

// PayRequest asks the node for a voucher (Config.Pay).
type PayRequest struct {
	// Peer is who is paid, PayTo the payee it announced.
	Peer  peer.ID
	PayTo []byte
	// Amount is what the voucher pays on top of the ones before it, in
	// the ledger's base units.
	Amount uint64
	// Budget is what the fetch may still pay in all, Amount included: a
	// channel opened for it may lock up to this much.
	Budget uint64
}

// PayFunc returns a voucher that pays a peer (Config.Pay). It may block,
// until ctx ends, while a channel opens.
type PayFunc func(ctx context.Context, req PayRequest) ([]byte, error)

// AcceptFunc checks and keeps a voucher a peer paid us with, durably
// before it returns, and returns what it added to the ones before it
// (Config.AcceptPayment). An error refuses the voucher; a peer whose
// vouchers are refused maxBadVouchers times in a row is dropped.
type AcceptFunc func(from peer.ID, voucher []byte) (added uint64, err error)

// costOf is what n bytes cost at price per MiB, rounded up; it saturates
// rather than overflows.
func costOf(n int64, price uint64) uint64 {
	if n <= 0 || price == 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(n), price)
	lo, carry := bits.Add64(lo, 1<<20-1, 0)
	hi += carry
	if hi >= 1<<20 {
		return math.MaxUint64
	}
	return hi<<44 | lo>>20
}

// bytesFor is how many bytes amount pays for at price per MiB, rounded
// down, at most MaxInt.
func bytesFor(amount, price uint64) int {
	if price == 0 {
		return 0
	}
	hi, lo := bits.Mul64(amount, 1<<20)
	if hi >= price {
		return math.MaxInt
	}
	q, _ := bits.Div64(hi, lo, price)
	return int(min(q, math.MaxInt))
}

// payBook is a priced node's accounts of the peers that pay it: what it
// charged each (bytes of leaves sent) and what each paid.
type payBook struct {
	mu    sync.Mutex
	price uint64
	accts map[peer.ID]*payAccount
	// charged and paid total every account, forgotten ones too.
	charged int64
	paid    uint64
}

// Earnings are what a priced node charged and was paid since it started.
type Earnings struct {
	// Charged is the bytes of leaves sent to peers that pay, Paid what
	// their vouchers added, in base units.
	Charged int64  `json:"charged_bytes"`
	Paid    uint64 `json:"paid"`
}

// Earnings returns what this node charged and was paid since it started
// (zero when it is free).
func (s *Service) Earnings() Earnings {
	if s.pay == nil {
		return Earnings{}
	}
	s.pay.mu.Lock()
	defer s.pay.mu.Unlock()
	return Earnings{Charged: s.pay.charged, Paid: s.pay.paid}
}

type payAccount struct {
	charged int64  // bytes of leaves sent since the peer said it pays
	paid    uint64 // what its vouchers added, in base units
	// behind: the peer let a wait for its payment run out; it is served
	// nothing more until it pays.
	behind bool
	// paidCh is closed, and replaced, at every payment.
	paidCh chan struct{}
	// streams counts the peer's streams that pay: an account that is
	// settled is forgotten when the last ends.
	streams int
}

func newPayBook(price uint64) *payBook {
	return &payBook{price: price, accts: make(map[peer.ID]*payAccount)}
}

func (b *payBook) account(id peer.ID) *payAccount {
	a := b.accts[id]
	if a == nil {
		if len(b.accts) >= maxPayAccounts {
			for k, o := range b.accts {
				if o.streams == 0 {
					delete(b.accts, k)
					break
				}
			}
		}
		a = &payAccount{paidCh: make(chan struct{})}
		b.accts[id] = a
	}
	return a
}

// join and leave count a paying peer's streams. A peer that opens a
// paying stream while it has none starts again from what it paid: the
// debt its earlier streams left (at most payCredit and a leaf: the credit
// this node risked) is written off, and it is no longer behind. The payer
// counts what it owes per stream (peerPayer) and forgets a stream's debt
// with the stream, as a payer that crashed and restarted does; kept here,
// a debt over one payStep would hold the new stream short of its first
// payment for good: served less than a step, the payer never pays, and
// waiting for that payment marks it behind.
func (b *payBook) join(id peer.ID) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.account(id)
	if a.streams == 0 {
		a.charged = min(a.charged, int64(bytesFor(a.paid, b.price)))
		a.behind = false
	}
	a.streams++
}

func (b *payBook) leave(id peer.ID) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.accts[id]
	if a == nil {
		return
	}
	if a.streams--; a.streams <= 0 && costOf(a.charged, b.price) <= a.paid {
		delete(b.accts, id)
	}
}

// refund takes back the charge of a leaf of n bytes that was not sent.
func (b *payBook) refund(id peer.ID, n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if a := b.accts[id]; a != nil {
		a.charged -= int64(n)
		b.charged -= int64(n)
	}
}

// credit records a payment of amount from id.
func (b *payBook) credit(id peer.ID, amount uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.account(id)
	a.paid += amount
	b.paid += amount
	a.behind = false
	close(a.paidCh)
	a.paidCh = make(chan struct{})
}

// charge charges id for a leaf of n bytes, waiting up to wait for a
// payment when that leaf would take it more than payCredit ahead of its
// payments. It returns errUnpaid when the wait runs out (and at once
// after that, until the peer pays).
func (b *payBook) charge(ctx context.Context, clock Clock, id peer.ID, n int, wait time.Duration) error {
	var timeout <-chan time.Time
	for {
		b.mu.Lock()
		a := b.account(id)
		if costOf(a.charged+int64(n), b.price) <= a.paid+costOf(payCredit, b.price) {
			a.charged += int64(n)
			b.charged += int64(n)
			b.mu.Unlock()
			return nil
		}
		if a.behind || wait <= 0 {
			b.mu.Unlock()
			return errUnpaid
		}
		paid := a.paidCh
		b.mu.Unlock()
		if timeout == nil {
			timeout = clock.After(wait)
		}
		select {
		case <-paid:
		case <-timeout:
			b.mu.Lock()
			b.account(id).behind = true
			b.mu.Unlock()
			return errUnpaid
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// peerPayer is a paying session's side of one priced peer: what it
// received from the peer and what it paid it.
type peerPayer struct {
	price uint64
	payTo []byte
	recv  chan struct{} // a leaf arrived: maybe a step is due
	// paying orders the vouchers, one at a time; it is held while the
	// node signs one, which may wait for a channel to be mined. mu guards
	// the fields below and is never held across that wait, so the reader
	// counting leaves (received) never waits for a payment.
	paying sync.Mutex
	mu     sync.Mutex
	got    int64  // bytes of leaves received
	paid   uint64 // what this stream's vouchers paid (written under paying too)
	done   bool   // stopped paying (budget spent, or the node cannot pay)
	// last is the last voucher sent; resent says it was sent again.
	last   []byte
	resent bool
}

func newPeerPayer(price uint64, payTo []byte) *peerPayer {
	return &peerPayer{price: price, payTo: payTo, recv: make(chan struct{}, 1)}
}

// received counts a leaf of n bytes from the peer and wakes the pay loop
// when a step is due.
func (p *peerPayer) received(n int) {
	p.mu.Lock()
	p.got += int64(n)
	due := costOf(p.got, p.price)-p.paid >= costOf(payStep, p.price)
	p.mu.Unlock()
	if due {
		select {
		case p.recv <- struct{}{}:
		default:
		}
	}
}

// payLoop pays the peer step by step until the stream ends.
func (pc *peerConn) payLoop() {
	for {
		select {
		case <-pc.pay.recv:
		case <-pc.ctx.Done():
			return
		}
		pc.payDue(pc.ctx, false)
	}
}

// payDue pays the peer what we owe it when that is a step or more, or
// anything at all when final, within the session's budget, and queues the
// voucher. Once the budget is spent or the node cannot pay, the stream
// pays no more (the peer serves us as it serves any free peer).
func (pc *peerConn) payDue(ctx context.Context, final bool) {
	p := pc.pay
	p.paying.Lock()
	defer p.paying.Unlock()
	p.mu.Lock()
	owed := costOf(p.got, p.price) - p.paid
	paid, done := p.paid, p.done
	p.mu.Unlock()
	if done || owed == 0 || !final && owed < costOf(payStep, p.price) {
		return
	}
	s := pc.sess
	amount, budget := s.reservePay(owed)
	if amount == 0 {
		p.stop()
		s.log.Info("fetch budget spent: paying a peer no more", "peer", pc.id, "paid", paid)
		return
	}
	v, err := s.svc.cfg.Pay(ctx, PayRequest{Peer: pc.id, PayTo: p.payTo, Amount: amount, Budget: budget})
	if err != nil {
		s.unreservePay(amount)
		if ctx.Err() == nil {
			p.stop()
			s.log.Warn("cannot pay peer: getting only what it gives free peers", "peer", pc.id, "err", err)
		}
		return
	}
	p.mu.Lock()
	p.paid += amount
	p.last, p.resent = v, false
	p.mu.Unlock()
	pc.queue(&Payment{Voucher: v})
}

// stop makes the stream pay no more.
func (p *peerPayer) stop() {
	p.mu.Lock()
	p.done = true
	p.mu.Unlock()
}

// resendPayment sends the last voucher again, once, when the peer says we
// fell behind: it may have refused it because its chain had not seen the
// channel's opening yet, and without more leaves no later voucher comes.
func (pc *peerConn) resendPayment() {
	p := pc.pay
	p.mu.Lock()
	v := p.last
	again := v != nil && !p.resent
	p.resent = true
	p.mu.Unlock()
	if again {
		pc.queue(&Payment{Voucher: v})
	}
}

// reservePay takes up to owed from the session's budget and returns what
// it took and what was left before.
func (s *session) reservePay(owed uint64) (amount, left uint64) {
	s.payMu.Lock()
	defer s.payMu.Unlock()
	left = s.payMax - s.paySpent
	amount = min(owed, left)
	s.paySpent += amount
	return amount, left
}

// unreservePay gives back what a failed payment took.
func (s *session) unreservePay(amount uint64) {
	s.payMu.Lock()
	s.paySpent -= amount
	s.payMu.Unlock()
}
