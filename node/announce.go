package node

import (
	"fmt"
	"net/netip"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// addrFilter matches the addresses of config no_announce: whole multiaddrs,
// and IP ranges written /ip4/A/ipcidr/N or /ip6/A/ipcidr/N.
type addrFilter struct {
	exact  []ma.Multiaddr
	ranges []netip.Prefix
}

func newAddrFilter(specs []string) (addrFilter, error) {
	var f addrFilter
	for _, s := range specs {
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			return addrFilter{}, fmt.Errorf("address %q: %w", s, err)
		}
		if p, ok, err := cidrOf(m); err != nil {
			return addrFilter{}, fmt.Errorf("address %q: %w", s, err)
		} else if ok {
			f.ranges = append(f.ranges, p)
			continue
		}
		f.exact = append(f.exact, m)
	}
	return f, nil
}

// cidrOf reads /ip4/A/ipcidr/N (or ip6): ok is false for any other shape.
func cidrOf(m ma.Multiaddr) (netip.Prefix, bool, error) {
	if len(m) != 2 || m[1].Protocol().Code != ma.P_IPCIDR {
		return netip.Prefix{}, false, nil
	}
	code := m[0].Protocol().Code
	if code != ma.P_IP4 && code != ma.P_IP6 {
		return netip.Prefix{}, false, nil
	}
	a, ok := netip.AddrFromSlice(m[0].RawValue())
	if !ok {
		return netip.Prefix{}, false, fmt.Errorf("bad IP")
	}
	raw := m[1].RawValue()
	if len(raw) != 1 || int(raw[0]) > a.BitLen() {
		return netip.Prefix{}, false, fmt.Errorf("bad prefix length")
	}
	return netip.PrefixFrom(a, int(raw[0])).Masked(), true, nil
}

// drops says whether the filter matches a.
func (f addrFilter) drops(a ma.Multiaddr) bool {
	for _, e := range f.exact {
		if e.Equal(a) {
			return true
		}
	}
	if len(f.ranges) == 0 {
		return false
	}
	ip, err := manet.ToIP(a)
	if err != nil {
		return false
	}
	na, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	na = na.Unmap()
	for _, p := range f.ranges {
		if p.Contains(na) {
			return true
		}
	}
	return false
}

// isCircuit says whether a is a relay address (it has /p2p-circuit).
func isCircuit(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

// announceFactory builds the host's address factory from config announce
// and no_announce, as kubo does: announce (when set) replaces the host's
// own addresses, but the relay addresses autorelay adds stay, since they are
// how a private node is reached; no_announce then removes what it matches.
// It returns nil when both are empty (libp2p's default).
func announceFactory(announce, noAnnounce []string) (func([]ma.Multiaddr) []ma.Multiaddr, error) {
	if len(announce) == 0 && len(noAnnounce) == 0 {
		return nil, nil
	}
	var fixed []ma.Multiaddr
	for _, s := range announce {
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("announce address %q: %w", s, err)
		}
		fixed = append(fixed, m)
	}
	filter, err := newAddrFilter(noAnnounce)
	if err != nil {
		return nil, fmt.Errorf("no_announce: %w", err)
	}
	return func(addrs []ma.Multiaddr) []ma.Multiaddr {
		src := addrs
		if len(fixed) > 0 {
			src = append([]ma.Multiaddr(nil), fixed...)
			for _, a := range addrs {
				if isCircuit(a) {
					src = append(src, a)
				}
			}
		}
		out := make([]ma.Multiaddr, 0, len(src))
		for _, a := range src {
			if !filter.drops(a) {
				out = append(out, a)
			}
		}
		return out
	}, nil
}
