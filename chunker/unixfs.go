package chunker

import (
	"encoding/binary"
	"fmt"
)

// UnixFS node types (the Type field of the UnixFS Data message).
const (
	TypeRaw       = 0
	TypeDirectory = 1
	TypeFile      = 2
	TypeMetadata  = 3
	TypeSymlink   = 4
	TypeHAMTShard = 5
)

// FSData is the UnixFS Data message carried in a dag-pb node's Data field.
// Fields this package does not use (mode, mtime) are skipped when decoding
// and never written.
type FSData struct {
	Type        uint64
	Data        []byte // inline file bytes, symlink target, or a HAMT shard's bitfield; nil if absent
	FileSize    uint64
	HasFileSize bool
	BlockSizes  []uint64
	HashType    uint64 // HAMT shards: the multicodec of the hash of names (murmur3-x64-64, 0x22); 0 if absent
	Fanout      uint64 // HAMT shards: slots per shard node; 0 if absent
}

// UnixFS protobuf tags: Type(1, varint), Data(2, bytes), filesize(3,
// varint), blocksizes(4, varint, repeated), hashType(5), fanout(6), mode(7),
// mtime(8, message).
const (
	tagFSType       = 1<<3 | 0
	tagFSData       = 2<<3 | 2
	tagFSFileSize   = 3<<3 | 0
	tagFSBlockSizes = 4<<3 | 0
	tagFSBlockPack  = 4<<3 | 2
	tagFSHashType   = 5<<3 | 0
	tagFSFanout     = 6<<3 | 0
)

// AppendFSData appends the encoding of d in the field order protobuf (and so
// boxo) writes: Type, Data, filesize, each blocksize unpacked, hashType
// and fanout when not zero.
func AppendFSData(dst []byte, d *FSData) []byte {
	dst = append(dst, tagFSType)
	dst = binary.AppendUvarint(dst, d.Type)
	if d.Data != nil {
		dst = append(dst, tagFSData)
		dst = binary.AppendUvarint(dst, uint64(len(d.Data)))
		dst = append(dst, d.Data...)
	}
	if d.HasFileSize {
		dst = append(dst, tagFSFileSize)
		dst = binary.AppendUvarint(dst, d.FileSize)
	}
	for _, s := range d.BlockSizes {
		dst = append(dst, tagFSBlockSizes)
		dst = binary.AppendUvarint(dst, s)
	}
	if d.HashType != 0 {
		dst = append(dst, tagFSHashType)
		dst = binary.AppendUvarint(dst, d.HashType)
	}
	if d.Fanout != 0 {
		dst = append(dst, tagFSFanout)
		dst = binary.AppendUvarint(dst, d.Fanout)
	}
	return dst
}

// DecodeFSData decodes a UnixFS Data message. Type is required. blocksizes
// may be packed or not. Known optional fields it does not use (mode, mtime)
// and unknown fields are skipped by wire type. The
// result's Data aliases b.
func DecodeFSData(b []byte) (*FSData, error) {
	if len(b) > MaxBlockSize {
		return nil, fmt.Errorf("decode unixfs: %w: %d bytes", ErrTooLarge, len(b))
	}
	d := &FSData{}
	hasType := false
	// BlockSizes grows by append only: its length is bounded by len(b), which
	// was checked above.
	for p := b; len(p) > 0; {
		tag, k := binary.Uvarint(p)
		if k <= 0 {
			return nil, fmt.Errorf("decode unixfs: %w: bad field tag", ErrMalformed)
		}
		p = p[k:]
		switch tag & 7 {
		case 0:
			v, k := binary.Uvarint(p)
			if k <= 0 {
				return nil, fmt.Errorf("decode unixfs: %w: bad varint in field %d", ErrMalformed, tag>>3)
			}
			p = p[k:]
			switch tag {
			case tagFSType:
				d.Type, hasType = v, true
			case tagFSFileSize:
				d.FileSize, d.HasFileSize = v, true
			case tagFSBlockSizes:
				d.BlockSizes = append(d.BlockSizes, v)
			case tagFSHashType:
				d.HashType = v
			case tagFSFanout:
				d.Fanout = v
			}
		case 2:
			l, k := binary.Uvarint(p)
			if k <= 0 || l > uint64(len(p)-k) {
				return nil, fmt.Errorf("decode unixfs: %w: bad length in field %d", ErrMalformed, tag>>3)
			}
			v := p[k : k+int(l)]
			p = p[k+int(l):]
			switch tag {
			case tagFSData:
				d.Data = v[:len(v):len(v)]
			case tagFSBlockPack:
				for q := v; len(q) > 0; {
					s, k := binary.Uvarint(q)
					if k <= 0 {
						return nil, fmt.Errorf("decode unixfs: %w: bad packed blocksize", ErrMalformed)
					}
					q = q[k:]
					d.BlockSizes = append(d.BlockSizes, s)
				}
			}
		case 5:
			if len(p) < 4 {
				return nil, fmt.Errorf("decode unixfs: %w: short fixed32", ErrMalformed)
			}
			p = p[4:]
		case 1:
			if len(p) < 8 {
				return nil, fmt.Errorf("decode unixfs: %w: short fixed64", ErrMalformed)
			}
			p = p[8:]
		default:
			return nil, fmt.Errorf("decode unixfs: %w: wire type %d", ErrMalformed, tag&7)
		}
	}
	if !hasType {
		return nil, fmt.Errorf("decode unixfs: %w: no Type", ErrMalformed)
	}
	return d, nil
}
