//go:build windows

package node

import (
	"errors"

	"golang.org/x/sys/windows"
)

// isAddrInUse reports whether err is a bind refused because the address
// is taken (WSAEADDRINUSE, or WSAEACCES for a port held exclusively).
func isAddrInUse(err error) bool {
	return err != nil && (errors.Is(err, windows.WSAEADDRINUSE) || errors.Is(err, windows.WSAEACCES))
}

// isConnRefused reports whether err is a connection refused: nothing
// listens there (WSAECONNREFUSED; Go's syscall.ECONNREFUSED is not what
// Windows returns).
func isConnRefused(err error) bool {
	return err != nil && errors.Is(err, windows.WSAECONNREFUSED)
}
