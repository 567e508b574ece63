package swarm

import (
	"fmt"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ProtocolID is the libp2p protocol of the exchange.
const ProtocolID = "/myco/swarm/1.0.0"

// ProtocolVersion is the version a Handshake carries. A peer that receives a
// different version closes the session.
const ProtocolVersion = 1

// Limits of the wire format. Every decoder checks them before it allocates.
const (
	// MaxBlockSize is the largest block a Block message carries: the
	// chunker's largest leaf (1 MiB). Internal DAG nodes are far smaller.
	MaxBlockSize = 1 << 20
	// MaxMessageSize is the largest message body (type byte and payload,
	// without the length prefix): a full-size block and its reference, or
	// a bitfield of MaxLeaves leaves, with room to spare.
	MaxMessageSize = MaxBlockSize + 1024
	// MaxLeaves is the largest number of leaves a root may have in a session:
	// 8 TiB at 1 MiB leaves. Its bitfield is 1 MiB.
	MaxLeaves = 1 << 23
	// MaxPeersPerMessage is the most peers one Peers message may list.
	MaxPeersPerMessage = 64
	// MaxAddrsPerPeer is the most addresses one peer may have in a Peers message.
	MaxAddrsPerPeer = 16
	// maxCIDLen, maxPeerIDLen and maxAddrLen bound length-prefixed fields.
	maxCIDLen    = 128
	maxPeerIDLen = 128
	maxAddrLen   = 512
)

// MsgType is the first byte of every message body.
type MsgType uint8

// Message types of /myco/swarm/1.0.0. The values are part of the protocol.
const (
	MsgHandshake     MsgType = 1
	MsgBitfield      MsgType = 2
	MsgHave          MsgType = 3
	MsgInterested    MsgType = 4
	MsgNotInterested MsgType = 5
	MsgChoke         MsgType = 6
	MsgUnchoke       MsgType = 7
	MsgRequest       MsgType = 8
	MsgCancel        MsgType = 9
	MsgBlock         MsgType = 10
	MsgReject        MsgType = 11
	MsgPeers         MsgType = 12
	MsgPayment       MsgType = 13
)

var msgTypeNames = map[MsgType]string{
	MsgHandshake:     "handshake",
	MsgBitfield:      "bitfield",
	MsgHave:          "have",
	MsgInterested:    "interested",
	MsgNotInterested: "not-interested",
	MsgChoke:         "choke",
	MsgUnchoke:       "unchoke",
	MsgRequest:       "request",
	MsgCancel:        "cancel",
	MsgBlock:         "block",
	MsgReject:        "reject",
	MsgPeers:         "peers",
	MsgPayment:       "payment",
}

func (t MsgType) String() string {
	if s, ok := msgTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("MsgType(%d)", uint8(t))
}

// Message is one /myco/swarm/1.0.0 message. The concrete types are the
// pointer types below (*Handshake, *Have, ...).
type Message interface {
	Type() MsgType
	// payloadLen is the encoded size of the payload after the type byte;
	// appendPayload appends it. Both assume validate returned nil.
	payloadLen() int
	appendPayload(dst []byte) []byte
	validate() error
	decode(d *decoder)
}

// Ref names the block a Request, Cancel, Block or Reject is about: a leaf by
// its index, or (when CID is defined) an internal DAG node by its CID, which
// a downloader fetches first to learn the leaves.
type Ref struct {
	Index int
	CID   cid.Cid
}

// LeafRef returns the reference to leaf i.
func LeafRef(i int) Ref { return Ref{Index: i} }

// NodeRef returns the reference to the internal node c.
func NodeRef(c cid.Cid) Ref { return Ref{CID: c} }

// IsLeaf reports whether r names a leaf by index.
func (r Ref) IsLeaf() bool { return !r.CID.Defined() }

func (r Ref) String() string {
	if r.IsLeaf() {
		return fmt.Sprintf("leaf %d", r.Index)
	}
	return "node " + r.CID.String()
}

// Handshake is the first message each side sends on a session stream.
// Leaves is the number of leaves of Root the sender knows of, or 0 when it
// does not know yet (a downloader that has not fetched the internal nodes).
//
// Name is the root's file or folder name as the sender knows it, "" when
// it knows none. It is optional on the wire (encoded after Leaves only when
// set), so a handshake without a name is byte-identical to one from before
// names existed. A name is at most MaxNameLen bytes and is a single path
// element: not empty, ".", or "..", and without '/', '\\' or NUL
// (CheckName); a decoder rejects any other.
//
// Price and PayTo are the sender's terms (see Payments in the package
// doc): the price of a MiB of leaves in the ledger's base units and the
// address, opaque to the swarm, that payments go to; both zero when it
// serves for free. Pays says the sender will pay for the leaves it gets
// from a priced peer. All three are optional on the wire after the name
// (an empty name stands in for a missing one when they follow), so a
// free, non-paying peer's handshake is byte-identical to one from before
// payments existed.
type Handshake struct {
	Version uint64
	Root    cid.Cid
	Leaves  int
	Name    string
	Price   uint64
	PayTo   []byte
	Pays    bool
}

// MaxPayToLen is the longest payee a Handshake carries.
const MaxPayToLen = 64

// MaxNameLen is the longest name a Handshake carries.
const MaxNameLen = 255

// CheckName reports whether name is safe as the last element of a path on
// every platform: not empty, not "." or "..", at most MaxNameLen bytes,
// valid UTF-8 and without path separators, NUL or other control bytes.
func CheckName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("name %q is not a file name", name)
	case len(name) > MaxNameLen:
		return fmt.Errorf("name of %d bytes, at most %d allowed", len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("name %q is not valid UTF-8", name)
	}
	for _, r := range name {
		if r == '/' || r == '\\' || r < 0x20 || r == 0x7f {
			return fmt.Errorf("name %q contains %q", name, r)
		}
	}
	return nil
}

// BitfieldMsg announces every leaf the sender holds. It is sent once, right
// after the handshake, by a peer that knows the leaf count.
type BitfieldMsg struct {
	Have *Bitfield
}

// Have announces one newly verified leaf.
type Have struct{ Index int }

// Interested says the sender wants leaves the receiver has.
type Interested struct{}

// NotInterested says the sender wants nothing the receiver has.
type NotInterested struct{}

// Choke says the sender will not serve requests; outstanding ones are dropped.
type Choke struct{}

// Unchoke says the sender will serve requests.
type Unchoke struct{}

// Request asks for one block.
type Request struct{ Ref Ref }

// Cancel withdraws an earlier Request.
type Cancel struct{ Ref Ref }

// Block carries one block. Data read by a Reader aliases the reader's buffer
// and is valid only until the next ReadMessage.
type Block struct {
	Ref  Ref
	Data []byte
}

// RejectReason says why a request was refused.
type RejectReason uint8

// Reject reasons. The values are part of the protocol.
const (
	// RejectNotFound: the sender does not have the block.
	RejectNotFound RejectReason = 1
	// RejectChoked: the receiver is choked.
	RejectChoked RejectReason = 2
	// RejectOverloaded: the receiver has too many requests outstanding.
	RejectOverloaded RejectReason = 3
	// RejectBroken: the sender's copy of the root is broken (the file it
	// shared changed or vanished since); it serves nothing of the root any
	// more. (A peer from before this reason existed cannot decode it and
	// resets the stream, which ends the session just as well.)
	RejectBroken RejectReason = 4
	// RejectUnpaid: the receiver said it pays for what it gets and fell
	// behind in payment; it gets nothing more until it pays.
	RejectUnpaid RejectReason = 5
)

var rejectReasonNames = map[RejectReason]string{
	RejectNotFound:   "not-found",
	RejectChoked:     "choked",
	RejectOverloaded: "overloaded",
	RejectBroken:     "broken",
	RejectUnpaid:     "unpaid",
}

func (r RejectReason) String() string {
	if s, ok := rejectReasonNames[r]; ok {
		return s
	}
	return fmt.Sprintf("RejectReason(%d)", uint8(r))
}

// Reject refuses a request.
type Reject struct {
	Ref    Ref
	Reason RejectReason
}

// Peers tells the receiver about other peers in the session (peer exchange).
type Peers struct {
	Peers []peer.AddrInfo
}

// Payment carries a voucher, opaque to the swarm, that pays the receiver
// for leaves it sent (see Payments in the package doc).
type Payment struct {
	Voucher []byte
}

// MaxVoucherLen is the longest voucher a Payment carries.
const MaxVoucherLen = 256

func (*Handshake) Type() MsgType     { return MsgHandshake }
func (*BitfieldMsg) Type() MsgType   { return MsgBitfield }
func (*Have) Type() MsgType          { return MsgHave }
func (*Interested) Type() MsgType    { return MsgInterested }
func (*NotInterested) Type() MsgType { return MsgNotInterested }
func (*Choke) Type() MsgType         { return MsgChoke }
func (*Unchoke) Type() MsgType       { return MsgUnchoke }
func (*Request) Type() MsgType       { return MsgRequest }
func (*Cancel) Type() MsgType        { return MsgCancel }
func (*Block) Type() MsgType         { return MsgBlock }
func (*Reject) Type() MsgType        { return MsgReject }
func (*Peers) Type() MsgType         { return MsgPeers }
func (*Payment) Type() MsgType       { return MsgPayment }

// newMessage returns an empty message of type t, or nil for an unknown type.
func newMessage(t MsgType) Message {
	switch t {
	case MsgHandshake:
		return new(Handshake)
	case MsgBitfield:
		return new(BitfieldMsg)
	case MsgHave:
		return new(Have)
	case MsgInterested:
		return new(Interested)
	case MsgNotInterested:
		return new(NotInterested)
	case MsgChoke:
		return new(Choke)
	case MsgUnchoke:
		return new(Unchoke)
	case MsgRequest:
		return new(Request)
	case MsgCancel:
		return new(Cancel)
	case MsgBlock:
		return new(Block)
	case MsgReject:
		return new(Reject)
	case MsgPeers:
		return new(Peers)
	case MsgPayment:
		return new(Payment)
	}
	return nil
}
