package chunker

import (
	"errors"
	"os"
	"syscall"
)

// isNoSpace matches ERROR_HANDLE_DISK_FULL (39) and ERROR_DISK_FULL (112)
// as well as Go's ENOSPC.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.Errno(39)) || errors.Is(err, syscall.Errno(112))
}

// allocate extends fh to n bytes: only Linux reserves the blocks up front.
func allocate(fh *os.File, n int64) error { return fh.Truncate(n) }
