package chunker

import (
	"errors"
	"os"
)

// ErrNoSpace: the disk (or quota) holding a fetch's partial data is full.
// A fetch that gets it cannot go on until space is freed: the error comes
// at once, from StartFetch or PutNode when the file's full size is
// reserved, or from PutLeaf when a write fails.
var ErrNoSpace = errors.New("no space left on device")

// noSpaceError keeps the system's error (and its path) as the message and
// matches both ErrNoSpace and the system's error.
type noSpaceError struct{ err error }

func (e *noSpaceError) Error() string   { return e.err.Error() }
func (e *noSpaceError) Unwrap() []error { return []error{ErrNoSpace, e.err} }

// wrapNoSpace makes an out-of-space error match ErrNoSpace; other errors
// (and nil) are returned as they are.
func wrapNoSpace(err error) error {
	if err == nil || errors.Is(err, ErrNoSpace) || !isNoSpace(err) {
		return err
	}
	return &noSpaceError{err}
}

// reserve gives fh its full size n (it is smaller): the blocks are
// allocated where the system can (allocate), so a download that does not
// fit fails at once with ErrNoSpace; elsewhere the file is only extended.
func reserve(fh *os.File, n int64) error {
	st, err := fh.Stat()
	if err != nil {
		return err
	}
	if err := allocate(fh, n); err != nil {
		// Free what a partial allocation may have taken.
		_ = fh.Truncate(st.Size())
		return wrapNoSpace(err)
	}
	return nil
}
