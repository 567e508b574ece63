// Package lab builds a closed network lab for tests, on Linux only, out of
// network namespaces, veth pairs and nftables: an "internet" segment with
// public nodes, and home networks each behind a router namespace of a chosen
// kind (cone NAT, symmetric NAT, stateful firewall, or open). It owns the
// namespaces, links, rulesets and processes it makes, and removes them on
// Close; it does not start myco daemons (the caller runs what it wants in a
// node with Command and Start). testnet/lab.sh builds the same topology from
// the shell.
//
// No lab namespace has a link into the machine's own network namespace, so
// no packet can leave the lab: its public addresses (11.0.113.0/24 for the
// internet, 11.51.100.0/24 for public LANs) reach only the lab's own hosts.
// They are in a block routed on the real internet on purpose: libp2p (as
// go-multiaddr's manet.IsPublicAddr) treats the documentation ranges
// 203.0.113.0/24 and 198.51.100.0/24 as unroutable, and neither
// advertises them nor hole-punches toward them.
package lab
