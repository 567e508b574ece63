//go:build !windows

package node

import (
	"errors"
	"syscall"
)

// isAddrInUse reports whether err is a bind refused because the address
// is taken.
func isAddrInUse(err error) bool {
	return err != nil && errors.Is(err, syscall.EADDRINUSE)
}

// isConnRefused reports whether err is a connection refused: nothing
// listens there.
func isConnRefused(err error) bool {
	return err != nil && errors.Is(err, syscall.ECONNREFUSED)
}
