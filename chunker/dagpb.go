package chunker

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
)

// PBLink is one link of a dag-pb node.
type PBLink struct {
	Hash  cid.Cid
	Name  string
	Tsize uint64 // cumulative size of the target: its block plus everything below it
}

// PBNode is a dag-pb node: links and opaque data (for UnixFS, an encoded
// FSData).
type PBNode struct {
	Links []PBLink
	Data  []byte // nil means absent
}

// Protobuf wire tags used by dag-pb: (field << 3) | wire type 2 (bytes) or 0
// (varint).
const (
	tagNodeData  = 1<<3 | 2
	tagNodeLinks = 2<<3 | 2
	tagLinkHash  = 1<<3 | 2
	tagLinkName  = 2<<3 | 2
	tagLinkTsize = 3<<3 | 0
)

// AppendPBNode appends the canonical dag-pb encoding of n to dst, in the byte
// order go-codec-dagpb produces: every link (field 2) first, each as Hash(1),
// Name(2), Tsize(3), then Data (field 1) if present. Name and Tsize are always
// written, as boxo does for the links it creates (an empty Name is 0x12 0x00).
func AppendPBNode(dst []byte, n *PBNode) []byte {
	for i := range n.Links {
		l := &n.Links[i]
		h := l.Hash.Bytes()
		size := 1 + uvarintLen(uint64(len(h))) + len(h) +
			1 + uvarintLen(uint64(len(l.Name))) + len(l.Name) +
			1 + uvarintLen(l.Tsize)
		dst = append(dst, tagNodeLinks)
		dst = binary.AppendUvarint(dst, uint64(size))
		dst = append(dst, tagLinkHash)
		dst = binary.AppendUvarint(dst, uint64(len(h)))
		dst = append(dst, h...)
		dst = append(dst, tagLinkName)
		dst = binary.AppendUvarint(dst, uint64(len(l.Name)))
		dst = append(dst, l.Name...)
		dst = append(dst, tagLinkTsize)
		dst = binary.AppendUvarint(dst, l.Tsize)
	}
	if n.Data != nil {
		dst = append(dst, tagNodeData)
		dst = binary.AppendUvarint(dst, uint64(len(n.Data)))
		dst = append(dst, n.Data...)
	}
	return dst
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// DecodePBNode decodes a dag-pb block strictly, following the DAG-PB spec:
// the block is at most MaxBlockSize; only fields 1 (Data) and 2 (Links) with
// the bytes wire type; all Links come before Data; Data at most once; in a
// link, Hash is required and must be a CID, fields appear in the order Hash,
// Name, Tsize, each at most once; Name is UTF-8. The returned node's Data
// aliases b.
func DecodePBNode(b []byte) (*PBNode, error) {
	if len(b) > MaxBlockSize {
		return nil, fmt.Errorf("decode dag-pb: %w: %d bytes", ErrTooLarge, len(b))
	}
	n := &PBNode{}
	// Each link takes at least 4 bytes on the wire (tag, length, Hash tag,
	// Hash length), so this bounds the slice before it is allocated.
	links := 0
	for p := b; len(p) > 0; {
		tag, _, rest, err := readField(p)
		if err != nil {
			return nil, fmt.Errorf("decode dag-pb: %w", err)
		}
		if tag == tagNodeLinks {
			links++
		}
		p = rest
	}
	if links > 0 {
		n.Links = make([]PBLink, 0, links)
	}
	for p := b; len(p) > 0; {
		tag, body, rest, _ := readField(p)
		p = rest
		switch tag {
		case tagNodeLinks:
			if n.Data != nil {
				return nil, fmt.Errorf("decode dag-pb: %w: link after data", ErrMalformed)
			}
			l, err := decodePBLink(body)
			if err != nil {
				return nil, fmt.Errorf("decode dag-pb link %d: %w", len(n.Links), err)
			}
			n.Links = append(n.Links, l)
		case tagNodeData:
			if n.Data != nil {
				return nil, fmt.Errorf("decode dag-pb: %w: data twice", ErrMalformed)
			}
			n.Data = body[:len(body):len(body)]
		default:
			return nil, fmt.Errorf("decode dag-pb: %w: unexpected field tag %#x", ErrMalformed, tag)
		}
	}
	return n, nil
}

// readField reads one protobuf field of wire type 2 (length-delimited) and
// rejects any other wire type, as dag-pb's PBNode has only bytes fields.
func readField(p []byte) (tag uint64, body, rest []byte, err error) {
	tag, k := binary.Uvarint(p)
	if k <= 0 {
		return 0, nil, nil, fmt.Errorf("%w: bad field tag", ErrMalformed)
	}
	if tag&7 != 2 {
		return 0, nil, nil, fmt.Errorf("%w: field tag %#x is not length-delimited", ErrMalformed, tag)
	}
	p = p[k:]
	l, k := binary.Uvarint(p)
	if k <= 0 {
		return 0, nil, nil, fmt.Errorf("%w: bad length", ErrMalformed)
	}
	p = p[k:]
	if l > uint64(len(p)) {
		return 0, nil, nil, fmt.Errorf("%w: length %d beyond end of block", ErrMalformed, l)
	}
	return tag, p[:l], p[l:], nil
}

func decodePBLink(p []byte) (PBLink, error) {
	var l PBLink
	last := uint64(0) // field number of the previous field: order must rise
	for len(p) > 0 {
		tag, k := binary.Uvarint(p)
		if k <= 0 {
			return l, fmt.Errorf("%w: bad field tag", ErrMalformed)
		}
		p = p[k:]
		field := tag >> 3
		if field <= last {
			return l, fmt.Errorf("%w: link field %d out of order or repeated", ErrMalformed, field)
		}
		last = field
		switch tag {
		case tagLinkHash, tagLinkName:
			n, k := binary.Uvarint(p)
			if k <= 0 || n > uint64(len(p)-k) {
				return l, fmt.Errorf("%w: bad length of link field %d", ErrMalformed, field)
			}
			v := p[k : k+int(n)]
			p = p[k+int(n):]
			if tag == tagLinkHash {
				c, err := cid.Cast(v)
				if err != nil {
					return l, fmt.Errorf("%w: link hash: %v", ErrMalformed, err)
				}
				l.Hash = c
			} else {
				if !utf8.Valid(v) {
					return l, fmt.Errorf("%w: link name is not UTF-8", ErrMalformed)
				}
				l.Name = string(v)
			}
		case tagLinkTsize:
			v, k := binary.Uvarint(p)
			if k <= 0 {
				return l, fmt.Errorf("%w: bad Tsize", ErrMalformed)
			}
			if v > 1<<63-1 {
				return l, fmt.Errorf("%w: Tsize above 2^63-1", ErrMalformed)
			}
			l.Tsize = v
			p = p[k:]
		default:
			return l, fmt.Errorf("%w: unexpected link field tag %#x", ErrMalformed, tag)
		}
	}
	if !l.Hash.Defined() {
		return l, fmt.Errorf("%w: link without hash", ErrMalformed)
	}
	return l, nil
}
