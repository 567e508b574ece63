package dht

import (
	"fmt"

	"github.com/ipfs/go-cid"
)

// MaxCIDBytes bounds a binary CID before it is decoded.
const MaxCIDBytes = 160

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
