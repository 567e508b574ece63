package node

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// ParsePeerAddr parses a multiaddr that ends in /p2p/<peer id>, as used for
// bootstrap peers and `myco connect`.
func ParsePeerAddr(s string) (peer.AddrInfo, error) {
	m, err := ma.NewMultiaddr(strings.TrimSpace(s))
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("bad multiaddr %q: %w", s, err)
	}
	ai, err := peer.AddrInfoFromP2pAddr(m)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("bad peer address %q: want a multiaddr ending in /p2p/<peer id>: %w", s, err)
	}
	return *ai, nil
}

// ParseAPIAddr checks a host:port for the API. The host must be an IP
// address or "localhost"; the port may be 0 to pick a free one.
func ParseAPIAddr(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("api address %q: want HOST:PORT: %w", s, err)
	}
	if host != "localhost" && net.ParseIP(host) == nil {
		return "", fmt.Errorf("api address %q: host must be an IP address or localhost", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "", fmt.Errorf("api address %q: bad port", s)
	}
	return s, nil
}

// ParseLogLevel maps debug, info, warn and error to slog levels; "" is info.
func ParseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
}
