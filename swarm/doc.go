// Package swarm owns the exchange of content chunks between peers: the
// /myco/swarm/1.0.0 protocol, the tit-for-tat choker, the piece picker and
// per-peer accounting.
//
// It reads and writes blocks through the chunker package's store and finds
// peers through whatever the node hands it; it never touches the ledger.
//
// # Layers
//
// The core of the package is pure and deterministic: the wire format
// (message.go, wire.go), Bitfield, the Choker, the Picker, the accounting
// and the token-bucket Limiter. None of them does I/O, starts a goroutine or
// reads the clock; they take the current time as an argument and randomness
// from an injected *rand.Rand, so tests replay whole scenarios in one
// goroutine without sleeping. The session layer (streams, deadlines, the
// chunker store) sits on top and feeds them events.
//
// # Wire format
//
// Messages are frames: a uvarint body length, then the body, which is a type
// byte and the type's payload (see wire.go for the layout of each type).
// A Reader checks the length against its maximum (MaxMessageSize, a 1 MiB
// block plus 1 KiB) before it grows its buffer, and reuses that buffer for
// every message: a decoded Block's Data is valid until the next read. Every
// malformed input is a *WireError whose Code (an ErrorCode, itself usable
// with errors.Is) names the rule broken. Leaves are referred to by index;
// internal DAG nodes, which a downloader fetches first to learn the leaves,
// by CID. A Handshake carries the sender's leaf count, 0 when it does not
// know it yet. Peer exchange (Peers) is capped at MaxPeersPerMessage peers
// of MaxAddrsPerPeer addresses each.
package swarm
