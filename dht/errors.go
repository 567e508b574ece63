package dht

import (
	"errors"

	"github.com/myco-p2p/myco/chunker"
)

// Errors callers compare with errors.Is.
var (
	// ErrMalformedCID: the text or bytes are not a CID. It is chunker's,
	// whose ParseCID reads the CIDs users type.
	ErrMalformedCID = chunker.ErrMalformedCID
	// ErrBadConfig: a Config setting is unusable.
	ErrBadConfig = errors.New("bad dht config")
	// ErrClosed: the DHT was closed.
	ErrClosed = errors.New("dht closed")
	// ErrBootstrapUnreachable: a bootstrap peer could not be dialled.
	ErrBootstrapUnreachable = errors.New("bootstrap peer unreachable")
	// ErrNoBootstrapPeers: Bootstrap was called with none configured.
	ErrNoBootstrapPeers = errors.New("no bootstrap peers configured")
)
