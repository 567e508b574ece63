package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
)

// This file holds the read-only queries on the chain: its tip, blocks,
// transactions and accounts.

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
