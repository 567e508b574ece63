package chunker

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing the n bytes at off in
// fh to the device, without waiting for it. A fetch writes its whole
// destination before Finish syncs it; left to itself the kernel would
// keep gigabytes dirty (background writeback starts at a tenth of RAM)
// and Finish would wait for all of it. Started leaf by leaf, the writes
// overlap with the transfer and Finish's fsync finds little left to do.
// It is a hint: an error changes nothing, Finish still syncs.
func startWriteback(fh *os.File, off int64, n int) {
	rc, err := fh.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), off, int64(n), unix.SYNC_FILE_RANGE_WRITE)
	})
}

// openDirect opens path (which exists) for writing with O_DIRECT.
func openDirect(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|unix.O_DIRECT, 0)
}

// DirectIO says how downloads reach the disk on this platform.
const DirectIO = "direct writes (O_DIRECT) with writeback started per leaf, synced when a fetch finishes"
