//go:build linux || darwin

package chunker

import (
	"os"

	"golang.org/x/sys/unix"
)

// stampID reads f's stamp with fstat: size, mtime, ctime, device, inode.
func stampID(f *os.File) (fileStamp, bool, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return fileStamp{}, false, err
	}
	var s unix.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &s) }); err != nil {
		return fileStamp{}, false, err
	}
	if serr != nil {
		return fileStamp{}, false, &os.PathError{Op: "fstat", Path: f.Name(), Err: serr}
	}
	return fileStamp{
		Size:  s.Size,
		MTime: s.Mtim.Nano(),
		CTime: s.Ctim.Nano(),
		Dev:   uint64(s.Dev),
		Ino:   s.Ino,
	}, true, nil
}
