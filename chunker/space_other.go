//go:build !linux && !windows

package chunker

import (
	"errors"
	"os"
	"syscall"
)

func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// allocate extends fh to n bytes: only Linux reserves the blocks up front.
func allocate(fh *os.File, n int64) error { return fh.Truncate(n) }
