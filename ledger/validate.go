package ledger

import (
	"math/bits"
	"sort"
	"time"
)

// This file holds the consensus rules. Each rule is stated in one sentence
// right above the check that enforces it, and each rejection carries its own
// ErrorCode. The functions are pure: they read the block, the parameters and
// an account view, and never the clock or the store.

// checkTxSanity applies the rules a transaction must meet on its own,
// whatever the chain state.
func checkTxSanity(tx *Tx, p *Params) error {
	// A transaction must carry the chain id of this network.
	if tx.ChainID != p.ChainID {
		return ruleErr(ErrWrongChainID, "chain id %#x, this network (%s) is %#x", tx.ChainID, p.Name, p.ChainID)
	}
	// A transaction's payload is at most MaxPayload bytes.
	if len(tx.Payload) > p.MaxPayload {
		return ruleErr(ErrPayloadTooBig, "payload is %d bytes, limit %d", len(tx.Payload), p.MaxPayload)
	}
	switch tx.Kind {
	case TxCoinbase:
		// A coinbase has no sender, fee or signature.
		if tx.Sender != [PubKeySize]byte{} || tx.Fee != 0 || tx.Sig != [SigSize]byte{} {
			return ruleErr(ErrBadCoinbase, "coinbase with a sender, fee or signature")
		}
		return nil
	case TxTransfer:
		// A transfer moves a positive amount.
		if tx.Amount == 0 {
			return ruleErr(ErrZeroAmount, "the amount is zero: a transfer moves at least 1 base unit")
		}
		// A transfer pays a real address, never the zero address.
		if tx.Recipient.IsZero() {
			return ruleErr(ErrBadRecipient, "transfer to the zero address")
		}
	case TxAnchor:
		// An anchor moves no coins, names no recipient and carries a valid CID and name.
		if tx.Amount != 0 || !tx.Recipient.IsZero() {
			return ruleErr(ErrBadAnchor, "anchor with an amount or recipient")
		}
		if _, err := DecodeAnchor(tx.Payload); err != nil {
			return ruleErr(ErrBadAnchor, "%v", err)
		}
	case TxNameCommit:
		// A name commitment moves no coins, names no recipient and carries exactly a 32-byte hash.
		if tx.Amount != 0 || !tx.Recipient.IsZero() || len(tx.Payload) != HashSize {
			return ruleErr(ErrBadNameCommit, "name commitment with an amount, a recipient or a %d-byte payload", len(tx.Payload))
		}
	case TxChannelOpen, TxChannelClose, TxChannelRefund, TxChannelTopup:
		if err := checkChannelSanity(tx, p); err != nil {
			return err
		}
	default:
		// A transaction's kind is coinbase, transfer, anchor, name commitment or a channel's.
		return ruleErr(ErrUnknownTxKind, "kind %d", uint8(tx.Kind))
	}
	// Amount plus fee must not overflow 64 bits.
	if _, carry := bits.Add64(tx.Amount, tx.Fee, 0); carry != 0 {
		return ruleErr(ErrOverflow, "amount %d plus fee %d overflows", tx.Amount, tx.Fee)
	}
	return nil
}

// CheckBlockSanity applies the rules a block must meet on its own, without
// its parent, state or signatures: version, proof of work, sizes,
// transaction sanity, coinbase placement, duplicates and merkle root.
// Gossip validators run it on blocks whose parent is not known yet.
func CheckBlockSanity(blk *Block, p *Params) error {
	_, err := checkBlockSanity(blk, p)
	return err
}

// checkBlockSanity applies the rules a block must meet on its own, without
// its parent or any state. It returns the transaction ids.
func checkBlockSanity(blk *Block, p *Params) ([]Hash, error) {
	h := &blk.Header
	// The header version is BlockVersion.
	if h.Version != BlockVersion {
		return nil, ruleErr(ErrBadVersion, "version %d, want %d", h.Version, BlockVersion)
	}
	if err := checkProofOfWork(h, h.Hash(), p); err != nil {
		return nil, err
	}
	// A block holds at least one transaction, its coinbase.
	if len(blk.Txs) == 0 {
		return nil, ruleErr(ErrNoTxs, "block has no transactions")
	}
	// A block holds at most MaxBlockTxs transactions.
	if len(blk.Txs) > p.MaxBlockTxs {
		return nil, ruleErr(ErrTooManyTxs, "%d transactions, limit %d", len(blk.Txs), p.MaxBlockTxs)
	}
	// Every payload must be encodable before the size can be measured.
	for _, tx := range blk.Txs {
		if len(tx.Payload) > p.MaxPayload {
			return nil, ruleErr(ErrPayloadTooBig, "payload is %d bytes, limit %d", len(tx.Payload), p.MaxPayload)
		}
	}
	// A block's encoding is at most MaxBlockSize bytes.
	if size := blk.Size(); size > p.MaxBlockSize {
		return nil, ruleErr(ErrBlockTooBig, "block is %d bytes, limit %d", size, p.MaxBlockSize)
	}
	// The first transaction is a coinbase.
	if blk.Txs[0].Kind != TxCoinbase {
		return nil, ruleErr(ErrFirstTxNotCoinbase, "first transaction is a %s", blk.Txs[0].Kind)
	}
	for i, tx := range blk.Txs {
		// Only the first transaction is a coinbase.
		if i > 0 && tx.Kind == TxCoinbase {
			return nil, ruleErr(ErrMultipleCoinbases, "transaction %d is a second coinbase", i)
		}
		if err := checkTxSanity(tx, p); err != nil {
			return nil, err
		}
	}
	// The coinbase's nonce is the block's height, so coinbase ids never repeat.
	if cb := blk.Txs[0]; cb.Nonce != h.Height {
		return nil, ruleErr(ErrCoinbaseHeight, "coinbase nonce %d in block at height %d", cb.Nonce, h.Height)
	}
	ids := blk.TxIDs()
	seen := make(map[Hash]struct{}, len(ids))
	for _, id := range ids {
		// No transaction appears twice in a block.
		if _, dup := seen[id]; dup {
			return nil, ruleErr(ErrDuplicateTx, "transaction %s appears twice", id)
		}
		seen[id] = struct{}{}
	}
	// The header's merkle root is the root of the block's transaction ids.
	if root := MerkleRoot(ids); root != h.MerkleRoot {
		return nil, ruleErr(ErrBadMerkleRoot, "header says %s, transactions give %s", h.MerkleRoot, root)
	}
	return ids, nil
}

// checkHeaderContext applies the rules that relate a header to its parent
// and, when now is not zero, to the receiver's clock.
func checkHeaderContext(h *Header, parent *blockNode, now time.Time, p *Params) error {
	// A block's height is its parent's plus one.
	if h.Height != parent.header.Height+1 {
		return ruleErr(ErrBadHeight, "height %d on a parent at %d", h.Height, parent.header.Height)
	}
	// A block's bits are the ASERT retarget computed from its parent.
	if want := parent.nextBits(p); h.Bits != want {
		return ruleErr(ErrUnexpectedBits, "bits %#08x, want %#08x", h.Bits, want)
	}
	// A block's timestamp is above the median of its last MedianTimeBlocks ancestors.
	if mtp := medianTime(parent, p.MedianTimeBlocks); h.Time <= mtp {
		return ruleErr(ErrTimeTooOld, "timestamp %d not above median time %d", h.Time, mtp)
	}
	// A block's timestamp is at most MaxFutureDrift ahead of the receiver's clock.
	if !now.IsZero() {
		if limit := now.UnixMilli() + p.MaxFutureDrift.Milliseconds(); h.Time > limit {
			return ruleErr(ErrTimeTooNew, "timestamp %d is beyond %d (now plus %s)", h.Time, limit, p.MaxFutureDrift)
		}
	}
	return nil
}

// medianTime returns the median timestamp of n and up to count-1 ancestors.
func medianTime(n *blockNode, count int) int64 {
	times := make([]int64, 0, count)
	for ; n != nil && len(times) < count; n = n.parent {
		times = append(times, n.header.Time)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	return times[len(times)/2]
}

// applyTx applies a signed (non-coinbase) transaction to v in the block bc:
// the rules that depend on account and index state.
func applyTx(v *view, tx *Tx, bc blockCtx) error {
	from := tx.SenderAddress()
	acc, err := v.account(from)
	if err != nil {
		return err
	}
	// A transaction's nonce is exactly its sender's next nonce.
	if tx.Nonce != acc.Nonce {
		return ruleErr(ErrBadNonce, "nonce %d, sender's next is %d", tx.Nonce, acc.Nonce)
	}
	// A close or refund pays out its channel before its fee is charged, so the fee may come from what it pays its sender.
	if settlesChannel(tx.Kind) {
		if err := settleChannel(v, tx, bc); err != nil {
			return err
		}
		if acc, err = v.account(from); err != nil {
			return err
		}
	}
	total, carry := bits.Add64(tx.Amount, tx.Fee, 0)
	// Amount plus fee must not overflow 64 bits.
	if carry != 0 {
		return ruleErr(ErrOverflow, "amount %d plus fee %d overflows", tx.Amount, tx.Fee)
	}
	// The sender's balance covers amount plus fee.
	if acc.Balance < total {
		return ruleErr(ErrInsufficientBalance, "not enough coins: the balance %d cannot cover %d (amount %d + fee %d)", acc.Balance, total, tx.Amount, tx.Fee)
	}
	// The sender's nonce must not overflow 64 bits.
	if acc.Nonce == ^uint64(0) {
		return ruleErr(ErrOverflow, "sender nonce is at its maximum")
	}
	acc.Balance -= total
	acc.Nonce++
	v.set(from, acc)
	switch tx.Kind {
	case TxTransfer:
		return credit(v, tx.Recipient, tx.Amount)
	case TxAnchor:
		return applyAnchor(v, tx, bc)
	case TxNameCommit:
		return applyNameCommit(v, tx, bc)
	case TxChannelOpen:
		return applyChannelOpen(v, tx, bc)
	case TxChannelTopup:
		return applyChannelTopup(v, tx, bc)
	}
	return nil
}

func credit(v *view, a Address, amount uint64) error {
	acc, err := v.account(a)
	if err != nil {
		return err
	}
	sum, carry := bits.Add64(acc.Balance, amount, 0)
	// A balance must not overflow 64 bits.
	if carry != 0 {
		return ruleErr(ErrOverflow, "balance %d plus %d overflows", acc.Balance, amount)
	}
	acc.Balance = sum
	v.set(a, acc)
	return nil
}

// connectTxs applies a sane block's transactions to v (their signatures
// are checked separately, vouchers here through sigs): every transfer and
// anchor in order, then the coinbase.
func connectTxs(v *view, blk *Block, p *Params, sigs *sigCache) error {
	bc := blockCtx{p: p, height: blk.Header.Height, time: blk.Header.Time, sigs: sigs, sigUse: sigSpend}
	for _, tx := range blk.Txs[1:] {
		if tx.Kind == TxAnchor {
			bc.hash = blk.Hash() // only anchors record it
			break
		}
	}
	var fees uint64
	for _, tx := range blk.Txs[1:] {
		if err := applyTx(v, tx, bc); err != nil {
			return err
		}
		var carry uint64
		fees, carry = bits.Add64(fees, tx.Fee, 0)
		// The block's fee total must not overflow 64 bits.
		if carry != 0 {
			return ruleErr(ErrOverflow, "fee total overflows")
		}
	}
	cb := blk.Txs[0]
	want, carry := bits.Add64(p.Subsidy(blk.Header.Height), fees, 0)
	if carry != 0 {
		return ruleErr(ErrOverflow, "subsidy plus fees overflows")
	}
	// The coinbase pays exactly the subsidy for its height plus the block's fees.
	if cb.Amount != want {
		return ruleErr(ErrBadCoinbaseAmount, "coinbase pays %d, subsidy %d plus fees %d is %d", cb.Amount, p.Subsidy(blk.Header.Height), fees, want)
	}
	// The coinbase is credited last, so a block cannot spend its own reward.
	return credit(v, cb.Recipient, cb.Amount)
}
