package netsync

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/myco-p2p/myco/ledger"
)

// ChainProtocol is the libp2p protocol of headers-first sync.
const ChainProtocol = "/myco/chain/1.0.0"

// Wire limits. Every length is checked against them before anything is
// allocated.
const (
	// MaxLocator bounds the hashes of a block locator (a locator of a chain
	// of 2^64 blocks has about 75).
	MaxLocator = 101
	// MaxHeaders is the most headers one response carries.
	MaxHeaders = 2000
	// MaxBlocksPerRequest is the most blocks one request asks for.
	MaxBlocksPerRequest = 256
	// maxBlocksResponse is the body size above which a server stops adding
	// blocks to a response (it always sends at least one).
	maxBlocksResponse = 4 << 20
)

// msgType says what a message is.
type msgType byte

const (
	msgGetHeaders msgType = iota + 1 // locator -> headers
	msgHeaders                       // headers after the locator
	msgGetBlocks                     // hashes -> blocks
	msgBlocks                        // one entry per hash asked, empty when unknown
)

func (t msgType) String() string {
	switch t {
	case msgGetHeaders:
		return "get-headers"
	case msgHeaders:
		return "headers"
	case msgGetBlocks:
		return "get-blocks"
	case msgBlocks:
		return "blocks"
	}
	return fmt.Sprintf("msgType(%d)", byte(t))
}

// message is one request or response of the chain protocol. Its encoding
// is the type byte and then, by type:
//
//	get-headers: count uint16, that many 32-byte locator hashes
//	headers:     count uint16, that many 96-byte headers
//	get-blocks:  count uint16, that many 32-byte block hashes
//	blocks:      count uint16, then per block a uint32 length and the
//	             block's canonical encoding (length 0: not available)
//
// integers big-endian. A frame on the stream is a uint32 length and the
// message.
type message struct {
	Type    msgType
	Hashes  []ledger.Hash   // get-headers (the locator), get-blocks
	Headers []ledger.Header // headers
	Blocks  [][]byte        // blocks; nil entries are blocks the peer lacks
}

var errMalformed = errors.New("malformed chain message")

// maxMessageSize is the largest frame a peer may send: a blocks response
// can exceed maxBlocksResponse by one block.
func maxMessageSize(maxBlock int) int {
	return maxBlocksResponse + maxBlock + 3 + 4*MaxBlocksPerRequest
}

func (m *message) encode() []byte {
	b := []byte{byte(m.Type)}
	switch m.Type {
	case msgGetHeaders, msgGetBlocks:
		b = binary.BigEndian.AppendUint16(b, uint16(len(m.Hashes)))
		for _, h := range m.Hashes {
			b = append(b, h[:]...)
		}
	case msgHeaders:
		b = binary.BigEndian.AppendUint16(b, uint16(len(m.Headers)))
		for i := range m.Headers {
			e := m.Headers[i].Encode()
			b = append(b, e[:]...)
		}
	case msgBlocks:
		b = binary.BigEndian.AppendUint16(b, uint16(len(m.Blocks)))
		for _, blk := range m.Blocks {
			b = binary.BigEndian.AppendUint32(b, uint32(len(blk)))
			b = append(b, blk...)
		}
	}
	return b
}

// decodeMessage parses one message of at most maxSize bytes, checking every
// count against both its limit and the bytes left before it allocates.
func decodeMessage(b []byte, maxSize int) (*message, error) {
	if len(b) > maxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", errMalformed, len(b), maxSize)
	}
	if len(b) < 3 {
		return nil, fmt.Errorf("%w: %d bytes", errMalformed, len(b))
	}
	m := &message{Type: msgType(b[0])}
	n := int(binary.BigEndian.Uint16(b[1:3]))
	rest := b[3:]
	fixed := func(size, limit int) error {
		if n > limit {
			return fmt.Errorf("%w: %s with %d entries, limit %d", errMalformed, m.Type, n, limit)
		}
		if len(rest) != n*size {
			return fmt.Errorf("%w: %s with %d entries needs %d bytes, has %d", errMalformed, m.Type, n, n*size, len(rest))
		}
		return nil
	}
	switch m.Type {
	case msgGetHeaders, msgGetBlocks:
		limit := MaxLocator
		if m.Type == msgGetBlocks {
			limit = MaxBlocksPerRequest
		}
		if err := fixed(ledger.HashSize, limit); err != nil {
			return nil, err
		}
		m.Hashes = make([]ledger.Hash, n)
		for i := range m.Hashes {
			copy(m.Hashes[i][:], rest[i*ledger.HashSize:])
		}
	case msgHeaders:
		if err := fixed(ledger.HeaderSize, MaxHeaders); err != nil {
			return nil, err
		}
		m.Headers = make([]ledger.Header, n)
		for i := range m.Headers {
			h, err := ledger.DecodeHeader(rest[i*ledger.HeaderSize : (i+1)*ledger.HeaderSize])
			if err != nil {
				return nil, fmt.Errorf("%w: header %d: %v", errMalformed, i, err)
			}
			m.Headers[i] = h
		}
	case msgBlocks:
		if n > MaxBlocksPerRequest {
			return nil, fmt.Errorf("%w: blocks with %d entries, limit %d", errMalformed, n, MaxBlocksPerRequest)
		}
		if len(rest) < 4*n {
			return nil, fmt.Errorf("%w: blocks with %d entries in %d bytes", errMalformed, n, len(rest))
		}
		m.Blocks = make([][]byte, n)
		for i := range m.Blocks {
			if len(rest) < 4 {
				return nil, fmt.Errorf("%w: block %d: truncated length", errMalformed, i)
			}
			l := binary.BigEndian.Uint32(rest)
			rest = rest[4:]
			if uint64(l) > uint64(len(rest)) {
				return nil, fmt.Errorf("%w: block %d: length %d, %d bytes left", errMalformed, i, l, len(rest))
			}
			if l > 0 {
				m.Blocks[i] = rest[:l:l]
			}
			rest = rest[l:]
		}
		if len(rest) != 0 {
			return nil, fmt.Errorf("%w: %d trailing bytes", errMalformed, len(rest))
		}
	default:
		return nil, fmt.Errorf("%w: unknown type %d", errMalformed, b[0])
	}
	return m, nil
}

// writeFrame writes m as one length-prefixed frame.
func writeFrame(w io.Writer, m *message) error {
	body := m.encode()
	frame := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(body)), uint32(len(body)))
	_, err := w.Write(append(frame, body...))
	return err
}

// readFrameLen reads a frame's length and checks it against maxSize before
// the caller allocates.
func readFrameLen(r io.Reader, maxSize int) (int, error) {
	var lb [4]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return 0, err
	}
	n := binary.BigEndian.Uint32(lb[:])
	if uint64(n) > uint64(maxSize) {
		return 0, fmt.Errorf("%w: frame of %d bytes, limit %d", errMalformed, n, maxSize)
	}
	return int(n), nil
}

// readFrame reads one frame of at most maxSize bytes and decodes it.
func readFrame(r io.Reader, maxSize int) (*message, error) {
	n, err := readFrameLen(r, maxSize)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return decodeMessage(buf, maxSize)
}
