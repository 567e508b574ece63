package ledger

import (
	"crypto/sha256"
	"encoding/binary"
)

// HeaderSize is the length of an encoded header.
const HeaderSize = 96

// BlockVersion is the only header version this code accepts.
const BlockVersion = 1

// Header is a block header. Its encoding (96 bytes, integers little-endian)
// is: version (uint32), height (uint64), previous block hash, merkle root,
// timestamp (int64 Unix milliseconds), bits (uint32), nonce (uint64). The
// first 64 bytes (one SHA-256 block) do not depend on timestamp, bits or
// nonce, so a miner hashes them once (the midstate) and only the second
// block per nonce. The block hash is the double SHA-256 of the encoding.
type Header struct {
	Version    uint32
	Height     uint64
	PrevHash   Hash
	MerkleRoot Hash
	Time       int64 // Unix milliseconds
	Bits       uint32
	Nonce      uint64
}

// NonceOffset is where the nonce sits in the encoded header.
const NonceOffset = 88

// Encode returns the 96-byte encoding of h.
func (h *Header) Encode() [HeaderSize]byte {
	var b [HeaderSize]byte
	binary.LittleEndian.PutUint32(b[0:4], h.Version)
	binary.LittleEndian.PutUint64(b[4:12], h.Height)
	copy(b[12:44], h.PrevHash[:])
	copy(b[44:76], h.MerkleRoot[:])
	binary.LittleEndian.PutUint64(b[76:84], uint64(h.Time))
	binary.LittleEndian.PutUint32(b[84:88], h.Bits)
	binary.LittleEndian.PutUint64(b[NonceOffset:HeaderSize], h.Nonce)
	return b
}

// DecodeHeader decodes a 96-byte header.
func DecodeHeader(b []byte) (Header, error) {
	var h Header
	if len(b) != HeaderSize {
		return h, ruleErr(ErrMalformed, "decode header: %d bytes, want %d", len(b), HeaderSize)
	}
	h.Version = binary.LittleEndian.Uint32(b[0:4])
	h.Height = binary.LittleEndian.Uint64(b[4:12])
	copy(h.PrevHash[:], b[12:44])
	copy(h.MerkleRoot[:], b[44:76])
	h.Time = int64(binary.LittleEndian.Uint64(b[76:84]))
	h.Bits = binary.LittleEndian.Uint32(b[84:88])
	h.Nonce = binary.LittleEndian.Uint64(b[NonceOffset:HeaderSize])
	return h, nil
}

// Hash returns the block hash: double SHA-256 of the header encoding.
func (h *Header) Hash() Hash {
	b := h.Encode()
	return DoubleSHA256(b[:])
}

// Block is a header and its transactions; the first is the coinbase. Its
// encoding is the header, the transaction count (uint32) and each
// transaction's canonical encoding.
type Block struct {
	Header Header
	Txs    []*Tx
}

// Hash returns the block's hash.
func (b *Block) Hash() Hash { return b.Header.Hash() }

// Size returns the length of the block's encoding.
func (b *Block) Size() int {
	n := HeaderSize + 4
	for _, tx := range b.Txs {
		n += tx.Size()
	}
	return n
}

// Encode returns the canonical encoding of b.
func (b *Block) Encode() []byte {
	out := make([]byte, 0, b.Size())
	hdr := b.Header.Encode()
	out = append(out, hdr[:]...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(b.Txs)))
	for _, tx := range b.Txs {
		out = tx.Append(out)
	}
	return out
}

// DecodeBlock decodes a canonical block of at most maxSize bytes. Sizes are
// checked before anything is allocated: the whole input against maxSize and
// the transaction count against what the remaining bytes could hold.
func DecodeBlock(b []byte, maxSize int) (*Block, error) {
	// A block's encoding is at most MaxBlockSize bytes.
	if len(b) > maxSize {
		return nil, ruleErr(ErrBlockTooBig, "block is %d bytes, limit %d", len(b), maxSize)
	}
	r := reader{b: b}
	hb, err := r.take(HeaderSize, "block header")
	if err != nil {
		return nil, err
	}
	hdr, _ := DecodeHeader(hb)
	nb, err := r.take(4, "block tx count")
	if err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(nb)
	if uint64(n) > uint64(len(r.b)/TxFixedSize) {
		return nil, ruleErr(ErrMalformed, "decode block: %d transactions cannot fit in %d bytes", n, len(r.b))
	}
	blk := &Block{Header: hdr, Txs: make([]*Tx, 0, n)}
	for i := uint32(0); i < n; i++ {
		tx, err := r.tx()
		if err != nil {
			return nil, err
		}
		blk.Txs = append(blk.Txs, tx)
	}
	if len(r.b) != 0 {
		return nil, ruleErr(ErrMalformed, "decode block: %d trailing bytes", len(r.b))
	}
	return blk, nil
}

// Merkle tree hashing is domain-separated: a leaf is SHA-256(0x00 || txid)
// and an inner node SHA-256(0x01 || left || right), so a leaf can never pass
// for a node. A level with an odd count carries its last hash up unchanged
// instead of pairing it with itself, so no two different transaction lists
// have the same root (Bitcoin's CVE-2012-2459 duplicate-subtree trick).
const (
	merkleLeafTag = 0x00
	merkleNodeTag = 0x01
)

// MerkleRoot returns the merkle root of the given transaction ids; the root
// of no transactions is the zero hash.
func MerkleRoot(ids []Hash) Hash {
	if len(ids) == 0 {
		return Hash{}
	}
	level := make([]Hash, len(ids))
	var buf [1 + 2*HashSize]byte
	for i, id := range ids {
		buf[0] = merkleLeafTag
		copy(buf[1:], id[:])
		level[i] = sha256.Sum256(buf[:1+HashSize])
	}
	for len(level) > 1 {
		next := level[:0]
		for i := 0; i < len(level); i += 2 {
			if i+1 == len(level) {
				next = append(next, level[i])
				continue
			}
			buf[0] = merkleNodeTag
			copy(buf[1:], level[i][:])
			copy(buf[1+HashSize:], level[i+1][:])
			next = append(next, sha256.Sum256(buf[:]))
		}
		level = next
	}
	return level[0]
}

// TxIDs returns the ids of the block's transactions, in order.
func (b *Block) TxIDs() []Hash {
	ids := make([]Hash, len(b.Txs))
	for i, tx := range b.Txs {
		ids[i] = tx.ID()
	}
	return ids
}
