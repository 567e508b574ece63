package ledger

import (
	"math/bits"
	"time"
)

// BlockTemplate builds the next block for a miner paying to: the
// highest-paying mempool transactions that fit (in each sender's nonce
// order), a coinbase with the subsidy plus their fees, bits from the ASERT
// retarget and a timestamp of now (or just above the median time). The
// nonce is left at zero for the miner.
func (c *Chain) BlockTemplate(to Address, now time.Time) (*Block, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tip := c.tipNode()
	height := tip.header.Height + 1
	ts := now.UnixMilli()
	if mtp := medianTime(tip, c.p.MedianTimeBlocks); ts <= mtp {
		ts = mtp + 1
	}
	cb := &Tx{ChainID: c.p.ChainID, Kind: TxCoinbase, Nonce: height, Recipient: to}
	room := c.p.MaxBlockSize - HeaderSize - 4 - cb.Size()
	candidates := c.pool.selectTxs(room, c.p.MaxBlockTxs-1)

	// Re-check against the state so a template is always valid.
	v := newView(c)
	bc := blockCtx{p: c.p, height: height, time: ts, sigs: c.sigs}
	txs := []*Tx{cb}
	var fees uint64
	for _, tx := range candidates {
		tv := newView(v)
		if err := applyTx(tv, tx, bc); err != nil {
			continue
		}
		sum, carry := bits.Add64(fees, tx.Fee, 0)
		if carry != 0 {
			break
		}
		tv.mergeInto(v)
		fees = sum
		txs = append(txs, tx)
	}
	cb.Amount = c.p.Subsidy(height) + fees
	blk := &Block{
		Header: Header{
			Version:  BlockVersion,
			Height:   height,
			PrevHash: tip.hash,
			Time:     ts,
			Bits:     tip.nextBits(c.p),
		},
		Txs: txs,
	}
	blk.Header.MerkleRoot = MerkleRoot(blk.TxIDs())
	return blk, nil
}
