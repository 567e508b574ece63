package chunker

import (
	"os"
	"time"
)

// fileStamp is what a stat of an open file tells about its state: enough
// to know, without reading it, that a file the store hashed still holds
// the bytes it hashed (see "Trusted files" in the package doc).
type fileStamp struct {
	Size  int64
	MTime int64 // modification time, unix nanoseconds
	// CTime is the status change time (unix ctime, Windows ChangeTime),
	// in unix nanoseconds: every write sets it, and no call sets it back
	// (os.Chtimes restores a modification time, not this).
	CTime int64
	// Dev and Ino are the file's identity: device and inode on unix,
	// volume serial number and file index on Windows. A file replaced by
	// a rename has another.
	Dev, Ino uint64
}

// stamp returns f's stamp. id is false where the system gives no
// identity and change time: then only Size and MTime are set.
func stamp(f *os.File) (st fileStamp, id bool, err error) {
	if st, ok, err := stampID(f); ok || err != nil {
		return st, ok, err
	}
	fi, err := f.Stat()
	if err != nil {
		return fileStamp{}, false, err
	}
	return fileStamp{Size: fi.Size(), MTime: fi.ModTime().UnixNano()}, false, nil
}

// Timestamps that land on whole seconds come from a file system that keeps
// no finer ones (ext3, HFS+: 1 s; FAT: 2 s). Elsewhere they come from the
// kernel's clock tick (at most about 16 ms).
const (
	racyCoarse = 2 * time.Second
	racyFine   = 100 * time.Millisecond
)

// quietSince reports whether st was last changed long enough before t
// (the time just before the stamp was taken) that any write from t on
// gives the file a later change time: a write in the same clock tick as
// the recorded one could otherwise go unseen ("racily clean", as git
// calls it). A file found quiet is trusted; one that is not is verified
// by hash on every read, as files without a stamp are.
func (st fileStamp) quietSince(t time.Time) bool {
	margin := racyFine
	if st.MTime%1e9 == 0 && st.CTime%1e9 == 0 {
		margin = racyCoarse
	}
	return t.Add(-margin).UnixNano() >= max(st.MTime, st.CTime)
}
