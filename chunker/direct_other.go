//go:build !linux && !darwin

package chunker

import (
	"errors"
	"os"
)

// startWriteback is a no-op where there is no sync_file_range: Finish's
// fsync writes everything.
func startWriteback(*os.File, int64, int) {}

// openDirect: there is no direct path here (Windows' unbuffered handles need
// sector-aligned buffers and a separate CreateFile; the plain write and
// Finish's fsync are what is used).
func openDirect(string) (*os.File, error) { return nil, errors.ErrUnsupported }

// DirectIO says how downloads reach the disk on this platform.
const DirectIO = "no direct I/O on this system: downloads go through the page cache and are synced when a fetch finishes"
