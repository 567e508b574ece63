package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sort"
	"sync"
)

// Config configures a Chain.
type Config struct {
	// Params are the network's consensus parameters (required).
	Params *Params
	// Store holds the chain (required). Close closes it.
	Store Store
	// Logger receives the chain's logs; nil discards them.
	Logger *slog.Logger
	// Parallel, when set, runs fn(0) … fn(n-1), possibly at once, and
	// returns when all have returned (internal/forkjoin makes one): the
	// chain verifies a block's signatures through it. Nil runs them one
	// after another, so the ledger itself starts no goroutine.
	Parallel func(n int, fn func(i int))
	// SigCacheSize bounds the signature cache (default 100000 entries;
	// negative turns it off).
	SigCacheSize int
	// MaxOrphans bounds the orphan pool (default 100).
	MaxOrphans int
	// Mempool bounds and policy.
	Mempool MempoolConfig
}

// Chain is one node's view of the ledger: the block index with every known
// branch, the best chain by cumulative work, its account state, the orphan
// pool and the mempool. It is a deterministic state machine: callers feed it
// blocks, transactions and the time; it reads no clock and does no I/O but
// through its Store. Its methods are safe for concurrent use.
type Chain struct {
	mu    sync.Mutex
	p     *Params
	store Store
	log   *slog.Logger
	par   func(n int, fn func(i int))
	sigs  *sigCache

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
		par:      cfg.Parallel,
		index:    make(map[Hash]*blockNode),
		orphans:  make(map[Hash]*orphan),
		byParent: make(map[Hash][]Hash),
		maxOrph:  cfg.MaxOrphans,
		subs:     make(map[*tipSub]struct{}),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
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
