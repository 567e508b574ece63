package chunker

import (
	"encoding/binary"
	"fmt"

	"github.com/ipfs/go-cid"
)

// The leveldb index. One byte of prefix names what a key is:
//
//	'r' cid                      kept root -> rootRecord
//	'i' cid                      incoming (fetching) root -> owner, destination
//	'p' owner                    owner not yet committed -> kind (import or fetch)
//	'n' cid                      block bytes kept in the index (dag-pb nodes, leaves of imports from a stream)
//	'o' cidkey owner             owner uses the block under 'n'
//	'O' owner cid                reverse of 'o', to release an owner
//	'f' file                     file record: owner, complete, size, mtime, path
//	'F' owner file               owner's files
//	'l' cidkey file offset       a leaf's bytes live in file at offset -> length
//	'L' file offset              reverse of 'l' -> cid
//	'c'                          counter for owner and file ids
//
// owner and file are 8-byte big-endian ids; cidkey is the CID's bytes
// prefixed by their length, so a prefix scan matches one CID exactly.
const (
	pRoot      = 'r'
	pIncoming  = 'i'
	pPending   = 'p'
	pNode      = 'n'
	pNodeOwner = 'o'
	pOwnerNode = 'O'
	pFile      = 'f'
	pOwnerFile = 'F'
	pLeafLoc   = 'l'
	pFileLeaf  = 'L'
	pCounter   = 'c'
)

func cidKey(prefix byte, c cid.Cid) []byte {
	b := c.Bytes()
	k := make([]byte, 0, 2+len(b)+16)
	k = append(k, prefix, byte(len(b)))
	return append(k, b...)
}

func plainCidKey(prefix byte, c cid.Cid) []byte {
	return append([]byte{prefix}, c.Bytes()...)
}

func idKey(prefix byte, id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefix}, id)
}

func nodeOwnerKey(c cid.Cid, owner uint64) []byte {
	return binary.BigEndian.AppendUint64(cidKey(pNodeOwner, c), owner)
}

func ownerNodeKey(owner uint64, c cid.Cid) []byte {
	return append(idKey(pOwnerNode, owner), c.Bytes()...)
}

func ownerFileKey(owner, file uint64) []byte {
	return binary.BigEndian.AppendUint64(idKey(pOwnerFile, owner), file)
}

func leafLocKey(c cid.Cid, file uint64, off int64) []byte {
	k := binary.BigEndian.AppendUint64(cidKey(pLeafLoc, c), file)
	return binary.BigEndian.AppendUint64(k, uint64(off))
}

func fileLeafKey(file uint64, off int64) []byte {
	return binary.BigEndian.AppendUint64(idKey(pFileLeaf, file), uint64(off))
}

// rootRecord is what the index keeps about a kept root.
type rootRecord struct {
	Owner  uint64
	Size   uint64
	Blocks uint64
	Kind   byte // kindFile, kindDir, kindSymlink
}

const (
	kindFile    = 'f'
	kindDir     = 'd'
	kindSymlink = 's'
)

func (r rootRecord) encode() []byte {
	b := []byte{1, r.Kind}
	b = binary.AppendUvarint(b, r.Owner)
	b = binary.AppendUvarint(b, r.Size)
	return binary.AppendUvarint(b, r.Blocks)
}

func decodeRootRecord(b []byte) (rootRecord, error) {
	var r rootRecord
	if len(b) < 2 || b[0] != 1 {
		return r, fmt.Errorf("root record: %w: bad version", ErrMalformed)
	}
	r.Kind = b[1]
	p := b[2:]
	for _, v := range []*uint64{&r.Owner, &r.Size, &r.Blocks} {
		x, n := binary.Uvarint(p)
		if n <= 0 {
			return r, fmt.Errorf("root record: %w", ErrMalformed)
		}
		*v, p = x, p[n:]
	}
	return r, nil
}

// fileRecord is a file whose bytes hold leaves, kept by reference.
type fileRecord struct {
	Owner    uint64
	Complete bool  // size and mtime are final (a fetch in progress is not)
	Size     int64 // at the time it was recorded
	MTime    int64 // unix nanoseconds
	Path     string
}

func (f fileRecord) encode() []byte {
	b := []byte{1, 0}
	if f.Complete {
		b[1] = 1
	}
	b = binary.AppendUvarint(b, f.Owner)
	b = binary.AppendVarint(b, f.Size)
	b = binary.AppendVarint(b, f.MTime)
	return append(b, f.Path...)
}

func decodeFileRecord(b []byte) (fileRecord, error) {
	var f fileRecord
	if len(b) < 2 || b[0] != 1 {
		return f, fmt.Errorf("file record: %w: bad version", ErrMalformed)
	}
	f.Complete = b[1] == 1
	p := b[2:]
	o, n := binary.Uvarint(p)
	if n <= 0 {
		return f, fmt.Errorf("file record: %w", ErrMalformed)
	}
	f.Owner, p = o, p[n:]
	for _, v := range []*int64{&f.Size, &f.MTime} {
		x, n := binary.Varint(p)
		if n <= 0 {
			return f, fmt.Errorf("file record: %w", ErrMalformed)
		}
		*v, p = x, p[n:]
	}
	f.Path = string(p)
	return f, nil
}
