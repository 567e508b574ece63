package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// This file holds the chain's store schema: the keys under which a Chain
// keeps blocks, the block index, the main chain and its state, and the
// helpers that read and write them.

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
	// The anchor indexes (F, R, M) are described in names.go, the channel
	// indexes (C, P, Q) in channel.go.
)

func key(prefix byte, b []byte) []byte { return append([]byte{prefix}, b...) }

func heightKey(h uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixHeight}, h)
}

func txLoc(block Hash, pos uint32) []byte {
	return binary.LittleEndian.AppendUint32(append([]byte(nil), block[:]...), pos)
}

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

func putAccount(b *Batch, a Address, acc Account) {
	if acc.IsZero() {
		b.Del(key(prefixAccount, a[:]))
	} else {
		b.Put(key(prefixAccount, a[:]), acc.encode())
	}
}
