// Package swarm owns the exchange of content chunks between peers: the
// /myco/swarm/1.0.0 protocol, the tit-for-tat choker, the piece picker and
// per-peer accounting.
//
// It reads and writes blocks through the chunker package's store and finds
// peers through whatever the node hands it; it never touches the ledger.
package swarm
