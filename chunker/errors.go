package chunker

import (
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
)

// Sentinel errors. Every failure that concerns one block is returned as a
// *BlockError wrapping one of these, so callers can both match the cause with
// errors.Is and learn which CID failed with errors.As.
var (
	// ErrNotFound: the store holds no block for the CID.
	ErrNotFound = errors.New("block not found")
	// ErrHashMismatch: the bytes do not hash to the CID. They are never served
	// or written out.
	ErrHashMismatch = errors.New("content does not match its CID")
	// ErrSourceChanged: a block kept by reference lives in a file whose size or
	// modification time changed since it was recorded, and its bytes no longer
	// match the CID.
	ErrSourceChanged = errors.New("referenced file changed since it was shared")
	// ErrSourceMissing: a block kept by reference lives in a file that no
	// longer exists (or cannot be opened).
	ErrSourceMissing = errors.New("referenced file is missing")
	// ErrUnsupportedCID: the CID is not CIDv1 with sha2-256 over raw or dag-pb.
	ErrUnsupportedCID = errors.New("unsupported CID (want CIDv1, sha2-256, raw or dag-pb)")
	// ErrMalformed: a dag-pb or UnixFS node does not decode or breaks a rule of
	// the format.
	ErrMalformed = errors.New("malformed node")
	// ErrTooLarge: a block is above MaxBlockSize, or a directory node would be.
	ErrTooLarge = errors.New("block too large")
	// ErrNotKept: the root is not a kept root of the store.
	ErrNotKept = errors.New("root is not kept")
	// ErrBadParams: chunk size or max links are out of bounds.
	ErrBadParams = errors.New("invalid import parameters")
	// ErrBadName: a directory entry name that cannot be written safely
	// (empty, ".", "..", or containing a slash or NUL).
	ErrBadName = errors.New("unsafe directory entry name")
	// ErrNotDir: a path looks a name up in something that is not a
	// directory.
	ErrNotDir = errors.New("not a directory")
	// ErrNoEntry: a directory has no entry of the name a path asks for.
	ErrNoEntry = errors.New("no such entry")
	// ErrMalformedCID: the text or bytes are not a CID (ParseCID; the dht
	// uses it too for the CIDs it stores).
	ErrMalformedCID = errors.New("malformed CID")
)

// BlockError is a failure concerning one block. Its message names the CID.
type BlockError struct {
	Cid cid.Cid
	Op  string // what was being done: "get", "verify", "decode", ...
	Err error  // one of the sentinel errors above, possibly wrapped with detail
}

func (e *BlockError) Error() string {
	return fmt.Sprintf("%s block %s: %v", e.Op, e.Cid, e.Err)
}

func (e *BlockError) Unwrap() error { return e.Err }

func blockErr(op string, c cid.Cid, err error) error {
	return &BlockError{Cid: c, Op: op, Err: err}
}
