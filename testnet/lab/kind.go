package lab

import "fmt"

// Kind is what a home's router does to the traffic that crosses it.
type Kind string

const (
	// Cone is a masquerading NAT that keeps the source port when it can,
	// as most home routers do.
	Cone Kind = "cone"
	// Symmetric is a NAT that picks a new random external port for each
	// destination (masquerade random,fully-random).
	Symmetric Kind = "symmetric"
	// Firewall does no NAT but drops inbound connections unless they
	// answer the home's own outbound traffic.
	Firewall Kind = "firewall"
	// Open gives the home's host a public address, reachable by anyone.
	Open Kind = "open"
)

// Ruleset is the nftables ruleset of a router of the given kind, whose
// interfaces are "wan" (to the internet) and "lan" (to its home). Every
// router drops, rather than rejects, unsolicited packets to its own
// addresses, as home routers do: a reset would kill TCP simultaneous open.
func Ruleset(kind Kind) (string, bool) {
	var forward, nat string
	switch kind {
	case Cone:
		// masquerade keeps the source port unless another mapping holds it.
		nat = "oifname \"wan\" masquerade"
	case Symmetric:
		nat = "oifname \"wan\" masquerade random,fully-random"
	case Firewall:
		// Only what answers the home's own traffic comes in (ct state above).
	case Open:
		forward = "iifname \"wan\" oifname \"lan\" accept"
	default:
		return "", false
	}
	s := fmt.Sprintf(`table inet lab {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iifname "lo" accept
		iifname "lan" accept
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "lan" oifname "wan" accept
		%s
	}
}
`, forward)
	if nat != "" {
		s += fmt.Sprintf(`table ip labnat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		%s
	}
}
`, nat)
	}
	return s, true
}
