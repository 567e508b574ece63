//go:build !linux

package chunker

import (
	"errors"
	"os"
)

// startWriteback is a no-op where there is no sync_file_range: Finish's
// fsync writes everything.
func startWriteback(*os.File, int64, int) {}

// openDirect: direct I/O is used on Linux only.
func openDirect(string) (*os.File, error) { return nil, errors.ErrUnsupported }
