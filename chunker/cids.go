package chunker

import (
	"crypto/sha256"
	"fmt"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// Codecs used by UnixFS DAGs.
const (
	CodecRaw   = cid.Raw         // 0x55: leaves, the file bytes themselves
	CodecDagPB = cid.DagProtobuf // 0x70: internal file nodes and directories
)

// MaxBlockSize is the largest block this package creates, stores, decodes or
// accepts from a peer (bitswap's limit). Leaves are at most MaxChunkSize.
const MaxBlockSize = 2 << 20

// sumCID hashes data with sha2-256 and returns the CIDv1 with the codec.
func sumCID(codec uint64, data []byte) cid.Cid {
	d := sha256.Sum256(data)
	return digestCID(codec, &d)
}

func digestCID(codec uint64, d *[sha256.Size]byte) cid.Cid {
	var buf [2 + sha256.Size]byte
	buf[0] = mh.SHA2_256
	buf[1] = sha256.Size
	copy(buf[2:], d[:])
	return cid.NewCidV1(codec, mh.Multihash(buf[:]))
}

// checkCID reports whether c is a CID this package can verify: CIDv1,
// sha2-256 (full length), raw or dag-pb.
func checkCID(c cid.Cid) error {
	if !c.Defined() {
		return fmt.Errorf("%w: undefined CID", ErrUnsupportedCID)
	}
	p := c.Prefix()
	if p.Version != 1 || p.MhType != mh.SHA2_256 || p.MhLength != sha256.Size ||
		(p.Codec != CodecRaw && p.Codec != CodecDagPB) {
		return blockErr("check", c, ErrUnsupportedCID)
	}
	return nil
}

// Verify checks that data hashes to c. A mismatch is a *BlockError wrapping
// ErrHashMismatch; an unsupported CID wraps ErrUnsupportedCID.
func Verify(c cid.Cid, data []byte) error {
	if err := checkCID(c); err != nil {
		return err
	}
	if len(data) > MaxBlockSize {
		return blockErr("verify", c, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(data)))
	}
	d := sha256.Sum256(data)
	// A CIDv1 sha2-256 multihash is the last 32 bytes of the CID's bytes.
	h := c.Hash()
	if string(h[len(h)-sha256.Size:]) != string(d[:]) {
		return blockErr("verify", c, ErrHashMismatch)
	}
	return nil
}
