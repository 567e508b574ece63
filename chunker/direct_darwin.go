package chunker

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback is a no-op on macOS, which has no sync_file_range:
// Finish's fsync writes everything.
func startWriteback(*os.File, int64, int) {}

// openDirect opens path (which exists) for writing with F_NOCACHE, macOS's
// equivalent of O_DIRECT: writes through it bypass the unified buffer cache
// when they are page-aligned, and go through it otherwise.
func openDirect(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		_, ferr = unix.FcntlInt(fd, unix.F_NOCACHE, 1)
	}); err != nil {
		ferr = err
	}
	if ferr != nil {
		f.Close()
		return nil, ferr
	}
	return f, nil
}

// DirectIO says how downloads reach the disk on this platform.
const DirectIO = "direct writes (F_NOCACHE), synced when a fetch finishes"
