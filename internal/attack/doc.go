// Package attack is a hostile peer for tests and benchmarks: functions
// that drive real protocol messages (chain sync, Kademlia writes, gossip)
// from a libp2p host of their own against a victim, the way someone
// probing a node would, and report what they sent and got back. The tests
// of the node (cmd/myco) and the bench script point it at a real daemon on
// 127.0.0.1; the packages' own tests point it at mocknet peers.
//
// It speaks the wire formats from their descriptions, not through the
// victim's encoders, so a change in the victim's format shows up here as
// a failed attack rather than passing silently. It owns no goroutine
// beyond the calls that run.
package attack
