package ledger

import (
	"container/heap"
	"math/bits"
	"sort"

	"github.com/btcsuite/btcd/btcec/v2"
)

// MempoolConfig bounds the mempool and sets its policy.
type MempoolConfig struct {
	// MaxTxs and MaxBytes bound the pool (defaults 10000 and 8 MiB).
	MaxTxs   int
	MaxBytes int
	// MinFee is the smallest fee accepted (default 0).
	MinFee uint64
}

// mempool holds valid transactions waiting for a block. For each sender
// they form a chain of consecutive nonces starting at the sender's next
// nonce in the tip state, and together they spend at most the sender's
// committed balance (incoming pending transfers are not counted), so the
// whole pool can go into one block in nonce order. It has no lock of its
// own: the Chain's lock covers it.
type mempool struct {
	cfg      MempoolConfig
	p        *Params
	byID     map[Hash]*poolEntry
	bySender map[Address][]*poolEntry // ascending nonce, consecutive
	names    map[string]*pendingName  // names of pending anchors
	channels map[Hash]*pendingName    // channels of pending closes, refunds and top-ups
	bytes    int
}

type poolEntry struct {
	tx   *Tx
	id   Hash
	from Address
	size int
	name string // the anchor's name, if any
	// channel is the channel a close, refund or top-up names, if any.
	channel Hash
}

// pendingName is the one sender whose pending anchors name a name (or
// whose pending transactions close, refund or top up a channel), and how
// many of them there are.
type pendingName struct {
	from  Address
	count int
}

// anchorName returns the name an anchor transaction names, or "".
func anchorName(tx *Tx) string {
	if tx.Kind != TxAnchor {
		return ""
	}
	a, err := DecodeAnchor(tx.Payload)
	if err != nil {
		return ""
	}
	return a.Name
}

func newMempool(cfg MempoolConfig, p *Params) *mempool {
	if cfg.MaxTxs <= 0 {
		cfg.MaxTxs = 10_000
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 8 << 20
	}
	m := &mempool{cfg: cfg, p: p}
	m.clear()
	return m
}

func (m *mempool) clear() {
	m.byID = make(map[Hash]*poolEntry)
	m.bySender = make(map[Address][]*poolEntry)
	m.names = make(map[string]*pendingName)
	m.channels = make(map[Hash]*pendingName)
	m.bytes = 0
}

// feeRateLess reports whether a pays less per byte than b.
func feeRateLess(a, b *poolEntry) bool {
	ah, al := bits.Mul64(a.tx.Fee, uint64(b.size))
	bh, bl := bits.Mul64(b.tx.Fee, uint64(a.size))
	return ah < bh || (ah == bh && al < bl)
}

// add validates tx against state plus the pending transactions, as part of
// a block at height, and adds it, evicting lower-paying transactions when
// the pool is full.
func (m *mempool) add(tx *Tx, state stateReader, height uint64, sigs *sigCache, verify bool) (Hash, error) {
	// Coinbases only exist inside blocks.
	if tx.Kind == TxCoinbase {
		return Hash{}, ruleErr(ErrCoinbaseInMempool, "coinbase offered to the mempool")
	}
	if err := checkTxSanity(tx, m.p); err != nil {
		return Hash{}, err
	}
	e := &poolEntry{tx: tx, id: tx.ID(), from: tx.SenderAddress(), size: tx.Size(), name: anchorName(tx), channel: channelOf(tx)}
	// A transaction enters the mempool once.
	if _, dup := m.byID[e.id]; dup {
		return e.id, ruleErr(ErrMempoolDuplicate, "transaction %s is already pending", e.id)
	}
	// The fee is at least the mempool's minimum.
	if tx.Fee < m.cfg.MinFee {
		return e.id, ruleErr(ErrFeeTooLow, "fee %d below the minimum %d", tx.Fee, m.cfg.MinFee)
	}
	acc, err := state.account(e.from)
	if err != nil {
		return e.id, err
	}
	pending := m.bySender[e.from]
	next := acc.Nonce + uint64(len(pending))
	switch {
	case tx.Nonce < acc.Nonce:
		return e.id, ruleErr(ErrBadNonce, "nonce %d already used (next is %d)", tx.Nonce, acc.Nonce)
	case tx.Nonce < next:
		// Two pending transactions never share a sender and nonce (no double spends).
		return e.id, ruleErr(ErrMempoolConflict, "nonce %d is taken by pending %s", tx.Nonce, pending[tx.Nonce-acc.Nonce].id)
	case tx.Nonce > next:
		// A pending transaction's nonce follows its sender's last pending one.
		return e.id, ruleErr(ErrNonceGap, "nonce %d skips ahead of %d", tx.Nonce, next)
	}
	// The sender's committed balance covers all its pending spends.
	v := newView(state)
	bc := blockCtx{p: m.p, height: height, sigs: sigs}
	for _, pe := range pending {
		if err := applyTx(v, pe.tx, bc); err != nil {
			return e.id, err
		}
	}
	if err := applyTx(v, tx, bc); err != nil {
		return e.id, err
	}
	// Two senders' pending anchors never name the same name: a block could hold only the first.
	if pn := m.names[e.name]; e.name != "" && pn != nil && pn.from != e.from {
		return e.id, ruleErr(ErrMempoolNameConflict, "name %q is claimed by a pending anchor from %x", e.name, pn.from)
	}
	// Two senders' pending transactions never close, refund or top up the same channel: a block could hold them in one order only.
	if pc := m.channels[e.channel]; !e.channel.IsZero() && pc != nil && pc.from != e.from {
		return e.id, ruleErr(ErrMempoolChannelConflict, "channel %s is settled or topped up by a pending transaction from %x", e.channel, pc.from)
	}
	if verify {
		if err := tx.verifySignature(sigs, sigKeep); err != nil {
			return e.id, err
		}
	}
	for len(m.byID)+1 > m.cfg.MaxTxs || m.bytes+e.size > m.cfg.MaxBytes {
		victim := m.evictionCandidate(e.from)
		// A full mempool only takes a transaction that pays more per byte than one it evicts.
		if victim == nil || !feeRateLess(victim, e) {
			return e.id, ruleErr(ErrMempoolFull, "mempool full (%d transactions, %d bytes)", len(m.byID), m.bytes)
		}
		m.remove(victim)
	}
	m.byID[e.id] = e
	m.bySender[e.from] = append(pending, e)
	m.bytes += e.size
	if e.name != "" {
		holdPending(m.names, e.name, e.from)
	}
	if !e.channel.IsZero() {
		holdPending(m.channels, e.channel, e.from)
	}
	return e.id, nil
}

// evictionCandidate returns the lowest-paying transaction that is last in
// its sender's chain (so no gap opens), not counting sender skip's.
func (m *mempool) evictionCandidate(skip Address) *poolEntry {
	var worst *poolEntry
	for from, list := range m.bySender {
		if from == skip {
			continue
		}
		last := list[len(list)-1]
		if worst == nil || feeRateLess(last, worst) || (!feeRateLess(worst, last) && bytesLess(last.id, worst.id)) {
			worst = last
		}
	}
	return worst
}

func bytesLess(a, b Hash) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// remove drops the last entry of a sender's chain.
func (m *mempool) remove(e *poolEntry) {
	list := m.bySender[e.from]
	list = list[:len(list)-1]
	if len(list) == 0 {
		delete(m.bySender, e.from)
	} else {
		m.bySender[e.from] = list
	}
	delete(m.byID, e.id)
	m.bytes -= e.size
	if e.name != "" {
		releasePending(m.names, e.name)
	}
	if !e.channel.IsZero() {
		releasePending(m.channels, e.channel)
	}
}

// holdPending counts one more pending transaction of from on k.
func holdPending[K comparable](m map[K]*pendingName, k K, from Address) {
	pn := m[k]
	if pn == nil {
		pn = &pendingName{from: from}
		m[k] = pn
	}
	pn.count++
}

// releasePending counts one pending transaction on k less.
func releasePending[K comparable](m map[K]*pendingName, k K) {
	if pn := m[k]; pn != nil {
		if pn.count--; pn.count == 0 {
			delete(m, k)
		}
	}
}

// reset revalidates the pool against a new tip state, after blocks were
// connected or disconnected; returned holds the transactions of
// disconnected blocks, which come back when still valid. Transactions that
// a new block included, or that became invalid, drop out.
func (m *mempool) reset(state stateReader, height uint64, returned []*Tx, sigs *sigCache) {
	type cand struct {
		tx     *Tx
		verify bool
	}
	var all []cand
	for _, list := range m.bySender {
		for _, e := range list {
			all = append(all, cand{e.tx, false})
		}
	}
	for _, tx := range returned {
		// Their signatures verified when their block connected.
		all = append(all, cand{tx, false})
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i].tx, all[j].tx
		if a.Sender != b.Sender {
			return bytesLess(a.Sender, b.Sender)
		}
		return a.Nonce < b.Nonce
	})
	m.clear()
	for _, c := range all {
		m.add(c.tx, state, height, sigs, c.verify) // invalid, duplicate or conflicting ones drop out
	}
}

// selectTxs returns pending transactions for a block, highest fee rate
// first among each sender's next transaction, within maxBytes and maxTxs.
func (m *mempool) selectTxs(maxBytes, maxTxs int) []*Tx {
	h := &senderHeap{}
	pos := make(map[Address]int)
	for from, list := range m.bySender {
		heap.Push(h, list[0])
		pos[from] = 0
	}
	var out []*Tx
	used := 0
	for h.Len() > 0 && len(out) < maxTxs {
		e := heap.Pop(h).(*poolEntry)
		if used+e.size > maxBytes {
			continue // this sender's later transactions cannot go without it
		}
		out = append(out, e.tx)
		used += e.size
		pos[e.from]++
		if list := m.bySender[e.from]; pos[e.from] < len(list) {
			heap.Push(h, list[pos[e.from]])
		}
	}
	return out
}

// senderHeap orders pool entries by fee rate, highest first (ties by id).
type senderHeap []*poolEntry

func (h senderHeap) Len() int { return len(h) }
func (h senderHeap) Less(i, j int) bool {
	if feeRateLess(h[j], h[i]) {
		return true
	}
	if feeRateLess(h[i], h[j]) {
		return false
	}
	return bytesLess(h[i].id, h[j].id)
}
func (h senderHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *senderHeap) Push(x any)   { *h = append(*h, x.(*poolEntry)) }
func (h *senderHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// AddTx validates a transaction against the tip state and the pending
// transactions and puts it in the mempool. A rejection is a *RuleError.
func (c *Chain) AddTx(tx *Tx) (Hash, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pool.add(tx, c, c.tipNode().header.Height+1, c.sigs, true)
}

// HasTx reports whether a transaction is in the mempool.
func (c *Chain) HasTx(id Hash) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.pool.byID[id]
	return ok
}

// MempoolTxs returns the pending transactions in the order a block would
// take them.
func (c *Chain) MempoolTxs() []*Tx {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pool.selectTxs(int(^uint(0)>>1), int(^uint(0)>>1))
}

// MempoolStats is the mempool's size.
type MempoolStats struct {
	Txs   int
	Bytes int
}

// MempoolStats returns the mempool's size.
func (c *Chain) MempoolStats() MempoolStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return MempoolStats{Txs: len(c.pool.byID), Bytes: c.pool.bytes}
}

// NextNonce returns the nonce a new transaction from a must carry: its
// committed nonce plus its pending transactions.
func (c *Chain) NextNonce(a Address) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	acc, err := c.account(a)
	if err != nil {
		return 0, err
	}
	return acc.Nonce + uint64(len(c.pool.bySender[a])), nil
}

// NewTransfer builds and signs a transfer of amount from key's address to
// to, with the next nonce after the committed and pending ones. It does
// not add it to the mempool (AddTx does).
func (c *Chain) NewTransfer(key *btcec.PrivateKey, to Address, amount, fee uint64, memo []byte) (*Tx, error) {
	tx := &Tx{ChainID: c.p.ChainID, Kind: TxTransfer, Recipient: to, Amount: amount, Fee: fee, Payload: memo}
	return c.signNext(key, tx)
}

// NewAnchor builds and signs an anchor of a CID and optional name: a
// proof of existence; with a name the sender owns, an update of the name;
// with a name nobody owns, a claim, which must carry the Salt of the
// sender's name commitment (NewNameCommit) once it is NameCommitDepth
// blocks deep (see NameClaimHeight).
func (c *Chain) NewAnchor(key *btcec.PrivateKey, a Anchor, fee uint64) (*Tx, error) {
	payload, err := a.Encode()
	if err != nil {
		return nil, err
	}
	tx := &Tx{ChainID: c.p.ChainID, Kind: TxAnchor, Fee: fee, Payload: payload}
	return c.signNext(key, tx)
}

func (c *Chain) signNext(key *btcec.PrivateKey, tx *Tx) (*Tx, error) {
	nonce, err := c.NextNonce(AddressFromPubKey(key.PubKey()))
	if err != nil {
		return nil, err
	}
	tx.Nonce = nonce
	if err := checkTxSanity(tx, c.p); err != nil {
		return nil, err
	}
	if err := tx.Sign(key); err != nil {
		return nil, err
	}
	return tx, nil
}
