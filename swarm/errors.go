package swarm

import "fmt"

// ErrorCode names one way a /myco/swarm/1.0.0 message can be malformed.
// ErrorCode is itself an error, so callers can write
// errors.Is(err, swarm.ErrMessageTooLarge); a *WireError carries the detail.
type ErrorCode int

const (
	// ErrMessageTooLarge: a frame's length prefix exceeds the reader's maximum,
	// or a message would encode to more than MaxMessageSize bytes.
	ErrMessageTooLarge ErrorCode = iota + 1
	// ErrEmptyMessage: a frame has length zero, so it has no type byte.
	ErrEmptyMessage
	// ErrUnknownType: the type byte is not one of the Msg* constants.
	ErrUnknownType
	// ErrTruncated: the message body ends before all its fields are read.
	ErrTruncated
	// ErrTrailingData: bytes are left in the body after the last field.
	ErrTrailingData
	// ErrBadVarint: a uvarint is malformed or overflows 64 bits.
	ErrBadVarint
	// ErrIndexRange: a leaf index or leaf count is negative or not below MaxLeaves.
	ErrIndexRange
	// ErrBadBitfield: a bitfield's length does not match its leaf count or
	// its spare bits are set.
	ErrBadBitfield
	// ErrBadCID: a CID does not parse, or is missing where one is required.
	ErrBadCID
	// ErrBadRef: a block reference has an unknown kind.
	ErrBadRef
	// ErrBadReason: a reject message carries an unknown reason.
	ErrBadReason
	// ErrTooMany: a peers message lists more peers, or a peer more addresses,
	// than allowed.
	ErrTooMany
	// ErrBadPeerID: a peer ID does not parse.
	ErrBadPeerID
	// ErrBadAddr: a multiaddr does not parse.
	ErrBadAddr
	// ErrFieldTooLarge: a length-prefixed field (CID, peer ID, multiaddr) is
	// longer than its limit.
	ErrFieldTooLarge
	// ErrBadName: a handshake's name is empty when present, ".", "..", or
	// contains a path separator, NUL or another control byte.
	ErrBadName
	// ErrBadTerms: a handshake's price comes without a payee, a payee
	// without a price, or a payee is longer than MaxPayToLen.
	ErrBadTerms
)

var errorCodeNames = map[ErrorCode]string{
	ErrMessageTooLarge: "ErrMessageTooLarge",
	ErrEmptyMessage:    "ErrEmptyMessage",
	ErrUnknownType:     "ErrUnknownType",
	ErrTruncated:       "ErrTruncated",
	ErrTrailingData:    "ErrTrailingData",
	ErrBadVarint:       "ErrBadVarint",
	ErrIndexRange:      "ErrIndexRange",
	ErrBadBitfield:     "ErrBadBitfield",
	ErrBadCID:          "ErrBadCID",
	ErrBadRef:          "ErrBadRef",
	ErrBadReason:       "ErrBadReason",
	ErrTooMany:         "ErrTooMany",
	ErrBadPeerID:       "ErrBadPeerID",
	ErrBadAddr:         "ErrBadAddr",
	ErrFieldTooLarge:   "ErrFieldTooLarge",
	ErrBadName:         "ErrBadName",
	ErrBadTerms:        "ErrBadTerms",
}

// String returns the constant's name.
func (c ErrorCode) String() string {
	if s, ok := errorCodeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("ErrorCode(%d)", int(c))
}

// Error makes an ErrorCode usable as an errors.Is target.
func (c ErrorCode) Error() string { return c.String() }

// WireError reports a malformed message: the operation, the rule broken and
// a description for logs.
type WireError struct {
	Op   string
	Code ErrorCode
	Desc string
}

func (e *WireError) Error() string {
	return fmt.Sprintf("%s: %v: %s", e.Op, e.Code, e.Desc)
}

// Is reports whether target is e's code, so errors.Is(err, ErrTruncated) works.
func (e *WireError) Is(target error) bool {
	c, ok := target.(ErrorCode)
	return ok && c == e.Code
}

func wireErr(op string, code ErrorCode, format string, args ...any) *WireError {
	return &WireError{Op: op, Code: code, Desc: fmt.Sprintf(format, args...)}
}
