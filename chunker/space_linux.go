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
//
// On tmpfs it checks the free space and extends the file instead: there
// fallocate allocates and zeroes every page of the file up front (a second
// per GiB on a VM whose host hands pages back lazily), on the goroutine
// that learned the layout and before any leaf is asked for, while the
// writes allocate the same pages anyway, each as its leaf arrives. Two
// fetches into one tmpfs at once can then both pass the check; the second
// to run out fails at a write (ErrNoSpace all the same).
func allocate(fh *os.File, n int64) error {
	rc, err := fh.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		var st unix.Statfs_t
		if unix.Fstatfs(int(fd), &st) == nil && st.Type == unix.TMPFS_MAGIC {
			ferr = tmpfsRoom(int(fd), &st, n)
			return
		}
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
	case ferr == errTmpfs:
		return fh.Truncate(n)
	case ferr == nil:
		return nil
	case errors.Is(ferr, unix.EOPNOTSUPP), errors.Is(ferr, unix.ENOSYS):
		return fh.Truncate(n)
	default:
		return &os.PathError{Op: "fallocate", Path: fh.Name(), Err: ferr}
	}
}

// errTmpfs: the file is on a tmpfs with room for it (tmpfsRoom).
var errTmpfs = errors.New("tmpfs")

// tmpfsRoom returns errTmpfs when the tmpfs of st has room to grow the
// file fd to n bytes (or has no size limit), ENOSPC otherwise.
func tmpfsRoom(fd int, st *unix.Statfs_t, n int64) error {
	var fst unix.Stat_t
	if err := unix.Fstat(fd, &fst); err != nil {
		return err
	}
	if st.Blocks == 0 { // mounted without a size limit
		return errTmpfs
	}
	if need := n - fst.Blocks*512; need > 0 && uint64(need) > st.Bavail*uint64(st.Bsize) {
		return unix.ENOSPC
	}
	return errTmpfs
}
