package dht

import (
	"fmt"

	"github.com/ipfs/go-cid"
)

// MaxCIDStringLen bounds a textual CID before it is decoded. A CIDv1 with a
// 512-bit digest in base32 is about 120 characters; 256 leaves room for any
// multibase and hash myco would accept without letting a caller make the
// decoder allocate for megabytes of input.
const MaxCIDStringLen = 256

// MaxCIDBytes bounds a binary CID before it is decoded.
const MaxCIDBytes = 160

// ParseCID decodes a CID given as text (any multibase, or a base58 CIDv0),
// checking its length first. The DHT keys records by the multihash, so a
// CIDv0 and the CIDv1 of the same content are the same key.
func ParseCID(s string) (cid.Cid, error) {
	if len(s) == 0 {
		return cid.Undef, fmt.Errorf("parse cid: %w: empty", ErrMalformedCID)
	}
	if len(s) > MaxCIDStringLen {
		return cid.Undef, fmt.Errorf("parse cid: %w: %d characters, at most %d allowed",
			ErrMalformedCID, len(s), MaxCIDStringLen)
	}
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, fmt.Errorf("parse cid %q: %w: %w", s, ErrMalformedCID, err)
	}
	return c, nil
}

// decodeCIDBytes decodes a binary CID as stored in the provide set, checking
// its size first and requiring that nothing follows it.
func decodeCIDBytes(b []byte) (cid.Cid, error) {
	if len(b) == 0 || len(b) > MaxCIDBytes {
		return cid.Undef, fmt.Errorf("decode cid: %w: %d bytes, want 1..%d", ErrMalformedCID, len(b), MaxCIDBytes)
	}
	n, c, err := cid.CidFromBytes(b)
	if err != nil {
		return cid.Undef, fmt.Errorf("decode cid: %w: %w", ErrMalformedCID, err)
	}
	if n != len(b) {
		return cid.Undef, fmt.Errorf("decode cid: %w: %d trailing bytes", ErrMalformedCID, len(b)-n)
	}
	return c, nil
}

// checkCID rejects the undefined CID that callers get from a failed parse.
func checkCID(op string, c cid.Cid) error {
	if !c.Defined() {
		return fmt.Errorf("%s: %w: undefined", op, ErrMalformedCID)
	}
	return nil
}
