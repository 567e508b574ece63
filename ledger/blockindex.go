package ledger

import (
	"encoding/binary"
	"math/big"
)

// This file holds the block index: one in-memory node per stored block, on
// any branch, with its cumulative work and validity.

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
