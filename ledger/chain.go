package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"runtime"
	"sort"
	"sync"
	"time"
)

// Store keys. Blocks and index entries are kept for every block that passed
// its header checks (main and side branches); the rest describes the main
// chain and its state and changes in one batch per connected or
// disconnected block.
const (
	prefixBlock   = 'B' // B hash -> block encoding
	prefixIndex   = 'I' // I hash -> header | seq uint64 | status byte
	prefixAccount = 'A' // A address -> account
	prefixUndo    = 'U' // U hash -> undo record of a main-chain block
	prefixHeight  = 'H' // H height (big-endian) -> hash of the main-chain block
	prefixTxIndex = 'X' // X txid -> block hash | tx position uint32 (main chain)
	keyTip        = "T" // hash of the main-chain tip
	keyMeta       = "N" // network name and chain id of this store
	// The anchor indexes (F, R, M) are described in names.go.
)

func key(prefix byte, b []byte) []byte { return append([]byte{prefix}, b...) }

func heightKey(h uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixHeight}, h)
}

// Block node status bits.
const (
	statusInvalid byte = 1 << iota // failed validation, or descends from a block that did
)

// blockNode is the in-memory index entry of a stored block.
type blockNode struct {
	hash   Hash
	header Header
	parent *blockNode
	work   *big.Int // cumulative work from genesis up to and including this block
	seq    uint64   // order first seen: ties in work go to the lower seq
	status byte
	// anchor is the timestamp of this branch's block 1, the ASERT anchor
	// (0 for genesis).
	anchor int64
}

// anchorFor returns the ASERT anchor of a block at header h on parent.
func anchorFor(h *Header, parent *blockNode) int64 {
	if h.Height == 1 {
		return h.Time
	}
	return parent.anchor
}

// nextBits is the bits a child of n must carry.
func (n *blockNode) nextBits(p *Params) uint32 {
	return NextBits(p, n.anchor, n.header.Height, n.header.Time)
}

func (n *blockNode) invalid() bool { return n.status&statusInvalid != 0 }

func (n *blockNode) indexEntry() []byte {
	hb := n.header.Encode()
	b := append(hb[:], make([]byte, 9)...)
	binary.LittleEndian.PutUint64(b[HeaderSize:], n.seq)
	b[HeaderSize+8] = n.status
	return b
}

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

// TipInfo describes the main chain's tip.
type TipInfo struct {
	Height uint64
	Hash   Hash
	// Work is the cumulative work of the chain up to the tip.
	Work *big.Int
	// Bits is the tip's compact target; NextBits is what the next block needs.
	Bits, NextBits uint32
	// Time is the tip's timestamp; MedianTime the median of its last blocks
	// (a new block's timestamp must be above it). Both are Unix milliseconds.
	Time, MedianTime int64
}

// Config configures a Chain.
type Config struct {
	// Params are the network's consensus parameters (required).
	Params *Params
	// Store holds the chain (required). Close closes it.
	Store Store
	// Logger receives the chain's logs; nil discards them.
	Logger *slog.Logger
	// SigWorkers is how many goroutines verify a block's signatures;
	// 0 means GOMAXPROCS.
	SigWorkers int
	// SigCacheSize bounds the signature cache (default 100000).
	SigCacheSize int
	// MaxOrphans bounds the orphan pool (default 100).
	MaxOrphans int
	// Mempool bounds and policy.
	Mempool MempoolConfig
}

// Chain is one node's view of the ledger: the block index with every known
// branch, the best chain by cumulative work, its account state, the orphan
// pool and the mempool. It is a deterministic state machine: callers feed it
// blocks, transactions and the time; it reads no clock and does no network
// I/O. Its methods are safe for concurrent use.
type Chain struct {
	mu      sync.Mutex
	p       *Params
	store   Store
	log     *slog.Logger
	workers int
	sigs    *sigCache

	index   map[Hash]*blockNode
	main    []*blockNode // main[h] is the main-chain block at height h
	best    *blockNode   // most work among valid nodes (ties: first seen)
	nextSeq uint64

	orphans   map[Hash]*orphan
	byParent  map[Hash][]Hash
	orphanSeq uint64
	maxOrph   int

	pool *mempool
	subs map[*tipSub]struct{}
}

type orphan struct {
	blk *Block
	seq uint64
}

// OpenChain opens the chain in cfg.Store, writing the genesis block into an
// empty store. If an earlier run stopped in the middle of a reorganisation,
// it finishes it.
func OpenChain(cfg Config) (*Chain, error) {
	if cfg.Params == nil || cfg.Store == nil {
		return nil, errors.New("open chain: Params and Store are required")
	}
	c := &Chain{
		p:        cfg.Params,
		store:    cfg.Store,
		log:      cfg.Logger,
		workers:  cfg.SigWorkers,
		index:    make(map[Hash]*blockNode),
		orphans:  make(map[Hash]*orphan),
		byParent: make(map[Hash][]Hash),
		maxOrph:  cfg.MaxOrphans,
		subs:     make(map[*tipSub]struct{}),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.workers <= 0 {
		c.workers = runtime.GOMAXPROCS(0)
	}
	if cfg.SigCacheSize == 0 {
		cfg.SigCacheSize = 100_000
	}
	c.sigs = newSigCache(cfg.SigCacheSize)
	if c.maxOrph <= 0 {
		c.maxOrph = 100
	}
	c.pool = newMempool(cfg.Mempool, c.p)
	if err := c.load(); err != nil {
		return nil, fmt.Errorf("open chain: %w", err)
	}
	return c, nil
}

// Close closes the store and ends every tip subscription.
func (c *Chain) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s := range c.subs {
		delete(c.subs, s)
		close(s.ch)
	}
	return c.store.Close()
}

// Params returns the chain's consensus parameters.
func (c *Chain) Params() *Params { return c.p }

func (c *Chain) meta() []byte {
	return fmt.Appendf(nil, "%s/%08x", c.p.Name, c.p.ChainID)
}

func (c *Chain) load() error {
	meta, err := c.store.Get([]byte(keyMeta))
	if errors.Is(err, ErrNotFound) {
		return c.writeGenesis()
	}
	if err != nil {
		return err
	}
	if !bytes.Equal(meta, c.meta()) {
		return fmt.Errorf("store holds chain %q, not %q", meta, c.meta())
	}
	var nodes []*blockNode
	err = c.store.Iterate([]byte{prefixIndex}, func(k, v []byte) error {
		if len(k) != 1+HashSize || len(v) != HeaderSize+9 {
			return fmt.Errorf("index entry %x: bad length", k)
		}
		hdr, _ := DecodeHeader(v[:HeaderSize])
		n := &blockNode{header: hdr, seq: binary.LittleEndian.Uint64(v[HeaderSize:]), status: v[HeaderSize+8]}
		copy(n.hash[:], k[1:])
		nodes = append(nodes, n)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load block index: %w", err)
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].header.Height < nodes[j].header.Height })
	for _, n := range nodes {
		if n.header.Height == 0 {
			n.work = Work(n.header.Bits)
		} else {
			parent := c.index[n.header.PrevHash]
			if parent == nil {
				return fmt.Errorf("load block index: block %s has no parent %s", n.hash, n.header.PrevHash)
			}
			n.parent = parent
			n.anchor = anchorFor(&n.header, parent)
			n.work = new(big.Int).Add(parent.work, Work(n.header.Bits))
			if parent.invalid() {
				n.status |= statusInvalid
			}
		}
		c.index[n.hash] = n
		c.nextSeq = max(c.nextSeq, n.seq+1)
	}
	tipHash, err := c.store.Get([]byte(keyTip))
	if err != nil {
		return fmt.Errorf("load tip: %w", err)
	}
	tip := c.index[Hash(tipHash)]
	if tip == nil {
		return fmt.Errorf("tip %x is not in the block index", tipHash)
	}
	c.main = make([]*blockNode, tip.header.Height+1)
	for n := tip; n != nil; n = n.parent {
		c.main[n.header.Height] = n
	}
	c.recomputeBest()
	// A crash in the middle of a reorganisation leaves a consistent state
	// at a block with less work than the best one: finish the job.
	if _, err := c.activateBest(); err != nil {
		return err
	}
	c.log.Info("chain opened", "network", c.p.Name, "height", c.tipNode().header.Height, "tip", c.tipNode().hash)
	return nil
}

func (c *Chain) writeGenesis() error {
	g := c.p.Genesis()
	n := &blockNode{hash: g.Hash(), header: g.Header, work: Work(g.Header.Bits), seq: 0}
	var b Batch
	b.Put(key(prefixBlock, n.hash[:]), g.Encode())
	b.Put(key(prefixIndex, n.hash[:]), n.indexEntry())
	b.Put(heightKey(0), n.hash[:])
	b.Put(key(prefixTxIndex, g.Txs[0].ID().Bytes()), txLoc(n.hash, 0))
	b.Put([]byte(keyTip), n.hash[:])
	b.Put([]byte(keyMeta), c.meta())
	if err := c.store.Write(&b); err != nil {
		return fmt.Errorf("write genesis: %w", err)
	}
	c.index[n.hash] = n
	c.main = []*blockNode{n}
	c.best = n
	c.nextSeq = 1
	return nil
}

// Bytes returns h as a slice.
func (h Hash) Bytes() []byte { return h[:] }

func txLoc(block Hash, pos uint32) []byte {
	return binary.LittleEndian.AppendUint32(append([]byte(nil), block[:]...), pos)
}

func (c *Chain) tipNode() *blockNode { return c.main[len(c.main)-1] }

// account reads committed state (implements stateReader).
func (c *Chain) account(a Address) (Account, error) {
	v, err := c.store.Get(key(prefixAccount, a[:]))
	if errors.Is(err, ErrNotFound) {
		return Account{}, nil
	}
	if err != nil {
		return Account{}, fmt.Errorf("read account: %w", err)
	}
	return decodeAccount(v)
}

func (c *Chain) loadBlock(h Hash) (*Block, error) {
	b, err := c.store.Get(key(prefixBlock, h[:]))
	if err != nil {
		return nil, fmt.Errorf("load block %s: %w", h, err)
	}
	blk, err := DecodeBlock(b, len(b))
	if err != nil {
		return nil, fmt.Errorf("load block %s: %w", h, err)
	}
	return blk, nil
}

// better reports whether a should be the tip rather than b: more work, or
// equal work and seen first.
func better(a, b *blockNode) bool {
	if c := a.work.Cmp(b.work); c != 0 {
		return c > 0
	}
	return a.seq < b.seq
}

func (c *Chain) recomputeBest() {
	c.best = c.tipNode()
	for _, n := range c.index {
		if !n.invalid() && better(n, c.best) {
			c.best = n
		}
	}
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

func (c *Chain) onMain(n *blockNode) bool {
	return n != nil && n.header.Height < uint64(len(c.main)) && c.main[n.header.Height] == n
}

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
		if err := verifySigs(blk.Txs, ids, c.workers, c.sigs); err != nil {
			return a, err
		}
		bv := newView(acc)
		if err := connectTxs(bv, blk, c.p); err != nil {
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
		for _, id := range pb.ids {
			c.sigs.remove(id)
		}
	}
	if len(detach) > 0 {
		c.log.Info("reorganised", "from", tip.hash, "to", target.hash, "fork", fork.header.Height, "disconnected", len(detach), "connected", len(attach))
	}
	c.pool.reset(c, c.tipNode().header.Height+1, returned, c.sigs)
	return nil, nil
}

func putAccount(b *Batch, a Address, acc Account) {
	if acc.IsZero() {
		b.Del(key(prefixAccount, a[:]))
	} else {
		b.Put(key(prefixAccount, a[:]), acc.encode())
	}
}

// addOrphan keeps a block whose parent is unknown, evicting the oldest
// orphan when the pool is full.
func (c *Chain) addOrphan(blk *Block, hash Hash) {
	if len(c.orphans) >= c.maxOrph {
		var oldest Hash
		var oldestSeq uint64 = ^uint64(0)
		for h, o := range c.orphans {
			if o.seq < oldestSeq {
				oldest, oldestSeq = h, o.seq
			}
		}
		c.removeOrphan(oldest)
	}
	c.orphans[hash] = &orphan{blk: blk, seq: c.orphanSeq}
	c.orphanSeq++
	prev := blk.Header.PrevHash
	c.byParent[prev] = append(c.byParent[prev], hash)
}

func (c *Chain) removeOrphan(h Hash) {
	o, ok := c.orphans[h]
	if !ok {
		return
	}
	delete(c.orphans, h)
	prev := o.blk.Header.PrevHash
	kids := c.byParent[prev]
	for i, k := range kids {
		if k == h {
			kids = append(kids[:i], kids[i+1:]...)
			break
		}
	}
	if len(kids) == 0 {
		delete(c.byParent, prev)
	} else {
		c.byParent[prev] = kids
	}
}

// processOrphans adopts the orphans that were waiting for parent, and
// theirs in turn. An orphan that turns out invalid is dropped.
func (c *Chain) processOrphans(parent Hash, now time.Time, log *connectLog) error {
	queue := []Hash{parent}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, h := range append([]Hash(nil), c.byParent[p]...) {
			o := c.orphans[h]
			c.removeOrphan(h)
			status, err := c.processBlock(o.blk, h, now, log)
			var re *RuleError
			if err != nil && !errors.As(err, &re) {
				return err
			}
			if err != nil {
				c.log.Debug("orphan rejected", "hash", h, "err", err)
				continue
			}
			if status == StatusMainChain || status == StatusSideChain {
				queue = append(queue, h)
			}
		}
	}
	return nil
}

// OrphanCount returns how many blocks wait for their parent.
func (c *Chain) OrphanCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.orphans)
}

// HasBlock reports whether the block is stored (on any branch) or waits as
// an orphan.
func (c *Chain) HasBlock(h Hash) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.index[h]
	_, orph := c.orphans[h]
	return ok || orph
}

// Tip describes the main chain's tip.
func (c *Chain) Tip() TipInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tipInfo()
}

func (c *Chain) tipInfo() TipInfo {
	t := c.tipNode()
	return TipInfo{
		Height:     t.header.Height,
		Hash:       t.hash,
		Work:       new(big.Int).Set(t.work),
		Bits:       t.header.Bits,
		NextBits:   t.nextBits(c.p),
		Time:       t.header.Time,
		MedianTime: medianTime(t, c.p.MedianTimeBlocks),
	}
}

// ErrUnknownBlock is wrapped when a block asked for is not stored.
var ErrUnknownBlock = errors.New("unknown block")

// BlockInfo is a stored block with where it stands.
type BlockInfo struct {
	Block *Block
	Hash  Hash
	// MainChain is set when the block is on the main chain;
	// Confirmations is then tip height - height + 1, else 0.
	MainChain     bool
	Confirmations uint64
	// Work is the cumulative work up to this block.
	Work *big.Int
}

// BlockByHash returns a stored block on any branch.
func (c *Chain) BlockByHash(h Hash) (BlockInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.index[h]
	if !ok {
		return BlockInfo{}, fmt.Errorf("block %s: %w", h, ErrUnknownBlock)
	}
	return c.blockInfo(n)
}

// BlockByHeight returns the main-chain block at height.
func (c *Chain) BlockByHeight(height uint64) (BlockInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if height >= uint64(len(c.main)) {
		return BlockInfo{}, fmt.Errorf("block at height %d (tip is %d): %w", height, len(c.main)-1, ErrUnknownBlock)
	}
	return c.blockInfo(c.main[height])
}

func (c *Chain) blockInfo(n *blockNode) (BlockInfo, error) {
	blk, err := c.loadBlock(n.hash)
	if err != nil {
		return BlockInfo{}, err
	}
	info := BlockInfo{Block: blk, Hash: n.hash, Work: new(big.Int).Set(n.work)}
	if c.onMain(n) {
		info.MainChain = true
		info.Confirmations = c.tipNode().header.Height - n.header.Height + 1
	}
	return info, nil
}

// TxLocation says where a main-chain transaction is.
type TxLocation struct {
	Block    Hash
	Height   uint64
	Position int
}

// ErrUnknownTx is wrapped when a transaction is not on the main chain.
var ErrUnknownTx = errors.New("unknown transaction")

// FindTx locates a transaction of the main chain by id.
func (c *Chain) FindTx(id Hash) (TxLocation, *Tx, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, err := c.store.Get(key(prefixTxIndex, id[:]))
	if errors.Is(err, ErrNotFound) {
		return TxLocation{}, nil, fmt.Errorf("transaction %s: %w", id, ErrUnknownTx)
	}
	if err != nil {
		return TxLocation{}, nil, fmt.Errorf("find transaction %s: %w", id, err)
	}
	if len(v) != HashSize+4 {
		return TxLocation{}, nil, fmt.Errorf("find transaction %s: bad index entry", id)
	}
	loc := TxLocation{Block: Hash(v[:HashSize]), Position: int(binary.LittleEndian.Uint32(v[HashSize:]))}
	n := c.index[loc.Block]
	if n == nil {
		return TxLocation{}, nil, fmt.Errorf("find transaction %s: block %s not indexed", id, loc.Block)
	}
	loc.Height = n.header.Height
	blk, err := c.loadBlock(loc.Block)
	if err != nil {
		return TxLocation{}, nil, err
	}
	if loc.Position >= len(blk.Txs) {
		return TxLocation{}, nil, fmt.Errorf("find transaction %s: position out of range", id)
	}
	return loc, blk.Txs[loc.Position], nil
}

// Account returns the committed state of an address at the tip (a zero
// Account for an address never used).
func (c *Chain) Account(a Address) (Account, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.account(a)
}

// Accounts returns every non-empty account at the tip; tests compare states
// with it.
func (c *Chain) Accounts() (map[Address]Account, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[Address]Account)
	err := c.store.Iterate([]byte{prefixAccount}, func(k, v []byte) error {
		if len(k) != 1+AddressSize {
			return fmt.Errorf("account key %x: bad length", k)
		}
		acc, err := decodeAccount(v)
		if err != nil {
			return err
		}
		out[Address(k[1:])] = acc
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	return out, nil
}

// tipSub is one tip subscription: a channel holding at most the latest tip.
type tipSub struct{ ch chan TipInfo }

// SubscribeTip returns a channel that receives the new tip whenever it
// changes (only the latest is kept if the reader falls behind) and a
// function that ends the subscription and closes the channel.
func (c *Chain) SubscribeTip() (<-chan TipInfo, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &tipSub{ch: make(chan TipInfo, 1)}
	c.subs[s] = struct{}{}
	return s.ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, ok := c.subs[s]; ok {
			delete(c.subs, s)
			close(s.ch)
		}
	}
}

func (c *Chain) notify(t TipInfo) {
	for s := range c.subs {
		select {
		case <-s.ch: // drop the stale tip
		default:
		}
		select {
		case s.ch <- t:
		default:
		}
	}
}
