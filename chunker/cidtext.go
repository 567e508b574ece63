package chunker

import (
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
)

// MaxCIDStringLen bounds a textual CID before it is decoded. A CIDv1 with a
// 512-bit digest in base32 is about 120 characters; 256 leaves room for any
// multibase and hash myco would accept without letting a caller make the
// decoder allocate for megabytes of input.
const MaxCIDStringLen = 256

// cidHint ends every error about a CID that does not parse.
const cidHint = ": a CID looks like bafybei… or bafkrei…"

// ParseCID parses a CID given as text (any multibase, or a base58 CIDv0),
// as a user types it: the length is checked before anything is decoded,
// and what is wrong with text that is not a CID is said in words, once.
// The libraries' own text repeats itself ("invalid cid: invalid cid:
// varints malformed"), so only the innermost reason is kept. Errors wrap
// ErrMalformedCID. A CID that parses may still be one this package cannot
// verify (CIDv0, another hash): that is checked where blocks are.
func ParseCID(s string) (cid.Cid, error) {
	if s == "" {
		return cid.Undef, &cidError{msg: "the CID is empty" + cidHint}
	}
	if len(s) > MaxCIDStringLen {
		return cid.Undef, &cidError{msg: fmt.Sprintf("%d characters are not a CID (at most %d)%s", len(s), MaxCIDStringLen, cidHint)}
	}
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, &cidError{msg: fmt.Sprintf("%q is not a CID (%s)%s", s, innermost(err), cidHint), err: err}
	}
	return c, nil
}

// cidError is a CID that does not parse, with the reason said once; it
// wraps ErrMalformedCID and the decoder's error for errors.Is.
type cidError struct {
	msg string
	err error
}

func (e *cidError) Error() string { return e.msg }

func (e *cidError) Unwrap() []error {
	if e.err == nil {
		return []error{ErrMalformedCID}
	}
	return []error{ErrMalformedCID, e.err}
}

// innermost returns the text of the deepest error err wraps, through every
// layer of cid.ErrInvalidCid and of fmt wrapping.
func innermost(err error) string {
	for {
		var ic cid.ErrInvalidCid
		if errors.As(err, &ic) && ic.Err != nil {
			err = ic.Err
			continue
		}
		var next error
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			if errs := u.Unwrap(); len(errs) > 0 {
				next = errs[len(errs)-1]
			}
		case interface{ Unwrap() error }:
			next = u.Unwrap()
		}
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
