package ledger

import (
	"errors"
	"fmt"
	"math/big"
	"time"
)

// This file holds block processing: ProcessBlock, and below it the
// connection of blocks, reorganisation onto the branch with the most work,
// and the marking of invalid branches.

// BlockStatus says what ProcessBlock did with a block.
type BlockStatus int

const (
	// StatusRejected: the block broke a rule (the error says which).
	StatusRejected BlockStatus = iota
	// StatusMainChain: the block is on the best chain now.
	StatusMainChain
	// StatusSideChain: the block is stored on a branch with less work.
	StatusSideChain
	// StatusOrphan: the parent is unknown; the block waits in the orphan pool.
	StatusOrphan
	// StatusDuplicate: the block was already known.
	StatusDuplicate
)

func (s BlockStatus) String() string {
	switch s {
	case StatusRejected:
		return "rejected"
	case StatusMainChain:
		return "main-chain"
	case StatusSideChain:
		return "side-chain"
	case StatusOrphan:
		return "orphan"
	case StatusDuplicate:
		return "duplicate"
	}
	return fmt.Sprintf("BlockStatus(%d)", int(s))
}

// ProcessResult reports the outcome of ProcessBlock.
type ProcessResult struct {
	Hash   Hash
	Status BlockStatus
	// TipChanged is set when the main chain's tip moved, by this block or by
	// orphans it adopted; Connected and Disconnected list the blocks.
	TipChanged   bool
	Tip          TipInfo
	Connected    []Hash
	Disconnected []Hash
}

// ProcessBlock validates blk and adds it to the chain: to the main chain
// (extending it or reorganising onto a branch with more work), to a side
// branch, or to the orphan pool when its parent is unknown. now is the
// receiver's clock, for the future-timestamp rule. A rule violation is a
// *RuleError with StatusRejected and leaves the chain and its state as they
// were; any other error is a storage failure.
func (c *Chain) ProcessBlock(blk *Block, now time.Time) (ProcessResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	oldTip := c.tipNode()
	res := ProcessResult{Hash: blk.Hash()}
	var cerr connectLog
	status, err := c.processBlock(blk, res.Hash, now, &cerr)
	res.Status = status
	if err == nil && (status == StatusMainChain || status == StatusSideChain) {
		if oerr := c.processOrphans(res.Hash, now, &cerr); oerr != nil && err == nil {
			err = oerr
		}
	}
	if status == StatusSideChain && c.onMain(c.index[res.Hash]) {
		res.Status = StatusMainChain // an adopted orphan carried it onto the main chain
	}
	res.Tip = c.tipInfo()
	if c.tipNode() != oldTip {
		res.TipChanged = true
		res.Connected, res.Disconnected = cerr.connected, cerr.disconnected
		c.notify(res.Tip)
	}
	if err != nil {
		var re *RuleError
		if errors.As(err, &re) {
			res.Status = StatusRejected
		}
		return res, err
	}
	return res, nil
}

type connectLog struct{ connected, disconnected []Hash }

func (c *Chain) processBlock(blk *Block, hash Hash, now time.Time, log *connectLog) (BlockStatus, error) {
	if n, ok := c.index[hash]; ok {
		// A block known to be invalid stays invalid.
		if n.invalid() {
			return StatusRejected, ruleErr(ErrInvalidAncestor, "block %s is known to be invalid", hash)
		}
		return StatusDuplicate, nil
	}
	if _, ok := c.orphans[hash]; ok {
		return StatusDuplicate, nil
	}
	if _, err := checkBlockSanity(blk, c.p); err != nil {
		return StatusRejected, err
	}
	parent, ok := c.index[blk.Header.PrevHash]
	if !ok {
		c.addOrphan(blk, hash)
		return StatusOrphan, nil
	}
	// A block must not build on a block known to be invalid.
	if parent.invalid() {
		return StatusRejected, ruleErr(ErrInvalidAncestor, "parent %s is invalid", parent.hash)
	}
	if err := checkHeaderContext(&blk.Header, parent, now, c.p); err != nil {
		return StatusRejected, err
	}
	n := &blockNode{
		hash:   hash,
		header: blk.Header,
		parent: parent,
		work:   new(big.Int).Add(parent.work, Work(blk.Header.Bits)),
		seq:    c.nextSeq,
		anchor: anchorFor(&blk.Header, parent),
	}
	var b Batch
	b.Put(key(prefixBlock, hash[:]), blk.Encode())
	b.Put(key(prefixIndex, hash[:]), n.indexEntry())
	if err := c.store.Write(&b); err != nil {
		return StatusRejected, fmt.Errorf("store block %s: %w", hash, err)
	}
	c.nextSeq++
	c.index[hash] = n
	if better(n, c.best) {
		c.best = n
	}
	failures, err := c.activateBestLog(log)
	if err != nil {
		return StatusRejected, err
	}
	if n.invalid() {
		if ferr, ok := failures[n]; ok {
			return StatusRejected, ferr
		}
		// An ancestor on the branch failed; report its error.
		for f, ferr := range failures {
			if f.header.Height < n.header.Height {
				return StatusRejected, ruleErr(ErrInvalidAncestor, "ancestor %s: %v", f.hash, ferr)
			}
		}
		return StatusRejected, ruleErr(ErrInvalidAncestor, "block %s descends from an invalid block", hash)
	}
	if c.onMain(n) {
		return StatusMainChain, nil
	}
	return StatusSideChain, nil
}

func (c *Chain) activateBest() (map[*blockNode]error, error) {
	var log connectLog
	return c.activateBestLog(&log)
}

// activateBestLog moves the tip to the valid block with the most work. A
// branch that fails validation is marked invalid (the failing block and
// everything after it) and the next best is tried.
func (c *Chain) activateBestLog(log *connectLog) (map[*blockNode]error, error) {
	var failures map[*blockNode]error
	for c.best != c.tipNode() && c.best.work.Cmp(c.tipNode().work) > 0 {
		failed, err := c.reorganize(c.best, log)
		if err == nil {
			continue
		}
		var re *RuleError
		if failed == nil || !errors.As(err, &re) {
			return failures, err
		}
		c.log.Warn("invalid block", "hash", failed.hash, "height", failed.header.Height, "err", err)
		if failures == nil {
			failures = make(map[*blockNode]error)
		}
		failures[failed] = err
		if err := c.markInvalid(failed); err != nil {
			return failures, err
		}
	}
	return failures, nil
}

// markInvalid marks n and every stored descendant invalid, durably, and
// picks the best chain again.
func (c *Chain) markInvalid(n *blockNode) error {
	var b Batch
	mark := func(m *blockNode) {
		m.status |= statusInvalid
		b.Put(key(prefixIndex, m.hash[:]), m.indexEntry())
	}
	mark(n)
	for _, m := range c.index {
		if m.invalid() || m.header.Height <= n.header.Height {
			continue
		}
		for a := m.parent; a != nil && a.header.Height >= n.header.Height; a = a.parent {
			if a == n {
				mark(m)
				break
			}
		}
	}
	if err := c.store.Write(&b); err != nil {
		return fmt.Errorf("mark block %s invalid: %w", n.hash, err)
	}
	c.recomputeBest()
	return nil
}

// plannedBlock is a validated block of a reorganisation, ready to commit.
type plannedBlock struct {
	node    *blockNode
	blk     *Block
	ids     []Hash
	changes *view
	undo    undoRecord
}

// reorganize makes target the tip. It first validates the whole new branch
// against an overlay of the state (rewound through undo records to the
// fork), changing nothing; only then does it write, one atomic batch per
// disconnected and per connected block. On a rule violation it returns the
// offending block.
func (c *Chain) reorganize(target *blockNode, log *connectLog) (*blockNode, error) {
	var attach []*blockNode
	fork := target
	for !c.onMain(fork) {
		attach = append(attach, fork)
		fork = fork.parent
	}
	for i, j := 0, len(attach)-1; i < j; i, j = i+1, j-1 {
		attach[i], attach[j] = attach[j], attach[i]
	}
	tip := c.tipNode()
	detach := c.main[fork.header.Height+1:]

	// Rewind an overlay to the fork.
	acc := newView(c)
	undos := make([]undoRecord, len(detach))
	detached := make([]*Block, len(detach))
	for i := len(detach) - 1; i >= 0; i-- {
		d := detach[i]
		ub, err := c.store.Get(key(prefixUndo, d.hash[:]))
		if err != nil {
			return nil, fmt.Errorf("load undo of %s: %w", d.hash, err)
		}
		u, err := decodeUndo(ub)
		if err != nil {
			return nil, fmt.Errorf("block %s: %w", d.hash, err)
		}
		u.applyTo(acc)
		undos[i] = u
		if detached[i], err = c.loadBlock(d.hash); err != nil {
			return nil, err
		}
	}

	// Validate every block of the new branch on top of it.
	plans := make([]plannedBlock, 0, len(attach))
	for _, a := range attach {
		blk, err := c.loadBlock(a.hash)
		if err != nil {
			return nil, err
		}
		ids, err := checkBlockSanity(blk, c.p)
		if err != nil {
			return a, err
		}
		if err := verifySigs(blk.Txs, c.par, c.sigs); err != nil {
			return a, err
		}
		bv := newView(acc)
		if err := connectTxs(bv, blk, c.p, c.sigs); err != nil {
			return a, err
		}
		undo, err := bv.undoFor(acc)
		if err != nil {
			return nil, err
		}
		plans = append(plans, plannedBlock{node: a, blk: blk, ids: ids, changes: bv, undo: undo})
		bv.mergeInto(acc)
	}

	// Commit: disconnect down to the fork, then connect the new branch.
	var returned []*Tx
	for i := len(detach) - 1; i >= 0; i-- {
		d := detach[i]
		var b Batch
		undos[i].writeTo(&b)
		b.Del(key(prefixUndo, d.hash[:]))
		b.Del(heightKey(d.header.Height))
		for _, tx := range detached[i].Txs {
			b.Del(key(prefixTxIndex, tx.ID().Bytes()))
		}
		b.Put([]byte(keyTip), d.parent.hash[:])
		if err := c.store.Write(&b); err != nil {
			c.pool.reset(c, c.tipNode().header.Height+1, returned, c.sigs)
			return nil, fmt.Errorf("disconnect block %s: %w", d.hash, err)
		}
		c.main = c.main[:d.header.Height]
		log.disconnected = append(log.disconnected, d.hash)
		returned = append(returned, detached[i].Txs[1:]...)
	}
	for _, pb := range plans {
		var b Batch
		pb.changes.writeTo(&b)
		b.Put(key(prefixUndo, pb.node.hash[:]), pb.undo.encode())
		b.Put(heightKey(pb.node.header.Height), pb.node.hash[:])
		for i, id := range pb.ids {
			b.Put(key(prefixTxIndex, id[:]), txLoc(pb.node.hash, uint32(i)))
		}
		b.Put([]byte(keyTip), pb.node.hash[:])
		if err := c.store.Write(&b); err != nil {
			c.pool.reset(c, c.tipNode().header.Height+1, returned, c.sigs)
			return nil, fmt.Errorf("connect block %s: %w", pb.node.hash, err)
		}
		c.main = append(c.main, pb.node)
		log.connected = append(log.connected, pb.node.hash)
	}
	if len(detach) > 0 {
		c.log.Info("reorganised", "from", tip.hash, "to", target.hash, "fork", fork.header.Height, "disconnected", len(detach), "connected", len(attach))
	}
	c.pool.reset(c, c.tipNode().header.Height+1, returned, c.sigs)
	return nil, nil
}
