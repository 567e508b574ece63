package node

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	ma "github.com/multiformats/go-multiaddr"
)

// ErrAddrInUse is returned at start when a listen or API address is taken
// by another program.
var ErrAddrInUse = errors.New("already in use")

// checkListenFree fails when a listen address with a fixed port is already
// taken. libp2p binds its TCP listeners with SO_REUSEPORT, so two daemons
// on one port would both start and share it without a word; a probe bound
// without that option fails when anyone holds the port, which is the
// answer wanted. Port 0, and addresses that are not IP (DNS names, relay
// circuits), are not checked.
func checkListenFree(addrs []string) error {
	for _, s := range addrs {
		network, hostport, ok := probeAddr(s)
		if !ok {
			continue
		}
		var err error
		switch network {
		case "tcp":
			var ln net.Listener
			if ln, err = net.Listen(network, hostport); err == nil {
				ln.Close()
			}
		case "udp":
			var pc net.PacketConn
			if pc, err = net.ListenPacket(network, hostport); err == nil {
				pc.Close()
			}
		}
		if isAddrInUse(err) {
			return fmt.Errorf("listen address %s is %w by another program (another myco daemon?): choose another port with --listen or in config.json (port 0 picks a free one)", s, ErrAddrInUse)
		}
		// Any other error (an address not on this machine...) is left for
		// libp2p to report in its own words.
	}
	return nil
}

// probeAddr gives the net network and host:port of an /ip4 or /ip6 listen
// multiaddr over tcp or udp with a non-zero port.
func probeAddr(s string) (network, hostport string, ok bool) {
	m, err := ma.NewMultiaddr(s)
	if err != nil {
		return "", "", false
	}
	ip, err := m.ValueForProtocol(ma.P_IP4)
	if err != nil {
		if ip, err = m.ValueForProtocol(ma.P_IP6); err != nil {
			return "", "", false
		}
	}
	if _, err := m.ValueForProtocol(ma.P_CIRCUIT); err == nil {
		return "", "", false
	}
	port, err := m.ValueForProtocol(ma.P_TCP)
	network = "tcp"
	if err != nil {
		if port, err = m.ValueForProtocol(ma.P_UDP); err != nil {
			return "", "", false
		}
		network = "udp"
	}
	if p, err := strconv.Atoi(port); err != nil || p == 0 {
		return "", "", false
	}
	return network, net.JoinHostPort(ip, port), true
}

// checkAPIFree fails when the API address has a fixed port that another
// program holds, before the node starts and logs anything.
func checkAPIFree(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "0" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return apiListenError(addr, err)
	}
	return ln.Close()
}

// apiListenError says in words why the API could not listen.
func apiListenError(addr string, err error) error {
	if isAddrInUse(err) {
		return fmt.Errorf("api address %s is %w by another program (another myco daemon?): choose another with --api HOST:PORT or \"api\" in config.json (port 0 picks a free one)", addr, ErrAddrInUse)
	}
	return fmt.Errorf("api: listen on %s: %w", addr, err)
}
