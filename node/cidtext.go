package node

import (
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"

	mycodht "github.com/myco-p2p/myco/dht"
)

// ParseCID parses a CID typed by a user and says in words what is wrong
// with one that is not. The libraries' own text repeats itself ("malformed
// CID: invalid cid: invalid cid: varints malformed"), so only the innermost
// reason is kept. Errors still wrap dht.ErrMalformedCID.
func ParseCID(s string) (cid.Cid, error) {
	c, err := mycodht.ParseCID(s)
	if err == nil || !errors.Is(err, mycodht.ErrMalformedCID) {
		return c, err
	}
	msg := "the CID is empty"
	if s != "" {
		msg = fmt.Sprintf("%q is not a CID (%s)", s, innermost(err))
	}
	return cid.Undef, &cidError{msg: msg + ": a CID looks like bafybei… or bafkrei…", err: err}
}

// cidError is a CID that does not parse, with the reason said once; it
// wraps the parser's error for errors.Is.
type cidError struct {
	msg string
	err error
}

func (e *cidError) Error() string { return e.msg }

func (e *cidError) Unwrap() error { return e.err }

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
