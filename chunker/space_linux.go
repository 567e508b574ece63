package chunker

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// allocate reserves the blocks of fh up to n bytes with fallocate (which
// also sets its size); where the file system has no fallocate, it falls
// back to extending the file.
func allocate(fh *os.File, n int64) error {
	rc, err := fh.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = unix.Fallocate(int(fd), 0, 0, n)
			if ferr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	switch {
	case ferr == nil:
		return nil
	case errors.Is(ferr, unix.EOPNOTSUPP), errors.Is(ferr, unix.ENOSYS):
		return fh.Truncate(n)
	default:
		return &os.PathError{Op: "fallocate", Path: fh.Name(), Err: ferr}
	}
}
