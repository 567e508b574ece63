package chunker

import (
	"encoding/binary"
	"fmt"

	"github.com/ipfs/go-cid"
)

// The leveldb index. One byte of prefix names what a key is:
//
//	'r' cid                      kept root -> rootRecord (owner, size, kind, name, broken)
//	'i' cid                      incoming (fetching) root -> incomingRecord (owner, destination, partial path, force)
//	'p' owner                    owner not yet committed -> kind (import or fetch)
//	'n' cid                      block bytes kept in the index (dag-pb nodes, leaves of imports from a stream)
//	'o' cidkey owner             owner uses the block under 'n'
//	'O' owner cid                reverse of 'o', to release an owner
//	'f' file                     file record: owner, complete, size, mtime, [trusted: ctime, dev, ino,] path
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

// rootRecord is what the index keeps about a kept root. Version 1 had no
// Name or Broken; it still decodes (with both empty).
type rootRecord struct {
	Owner  uint64
	Size   uint64
	Blocks uint64
	Kind   byte   // kindFile, kindDir, kindSymlink
	Name   string // file or folder name it was shared or fetched under
	Broken string // why it can no longer be served; "" when whole
}

const (
	kindFile    = 'f'
	kindDir     = 'd'
	kindSymlink = 's'
)

func (r rootRecord) encode() []byte {
	b := []byte{2, r.Kind}
	b = binary.AppendUvarint(b, r.Owner)
	b = binary.AppendUvarint(b, r.Size)
	b = binary.AppendUvarint(b, r.Blocks)
	b = binary.AppendUvarint(b, uint64(len(r.Name)))
	b = append(b, r.Name...)
	b = binary.AppendUvarint(b, uint64(len(r.Broken)))
	return append(b, r.Broken...)
}

func decodeRootRecord(b []byte) (rootRecord, error) {
	var r rootRecord
	if len(b) < 2 || (b[0] != 1 && b[0] != 2) {
		return r, fmt.Errorf("root record: %w: bad version", ErrMalformed)
	}
	version := b[0]
	r.Kind = b[1]
	p := b[2:]
	for _, v := range []*uint64{&r.Owner, &r.Size, &r.Blocks} {
		x, n := binary.Uvarint(p)
		if n <= 0 {
			return r, fmt.Errorf("root record: %w", ErrMalformed)
		}
		*v, p = x, p[n:]
	}
	if version == 1 {
		return r, nil
	}
	for _, v := range []*string{&r.Name, &r.Broken} {
		s, rest, ok := readString(p)
		if !ok {
			return r, fmt.Errorf("root record: %w", ErrMalformed)
		}
		*v, p = s, rest
	}
	return r, nil
}

// readString reads a uvarint length and that many bytes.
func readString(p []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)-k) {
		return "", nil, false
	}
	p = p[k:]
	return string(p[:n]), p[n:], true
}

// incomingRecord is what the index keeps about an unfinished fetch.
//
// Version 2 starts with a 0 byte (an old record starts with its owner as a
// uvarint, and owner 0 is never allocated), then the version and a flags
// byte. Version 1 was the owner and the destination, written in place; it
// decodes with Part "" and Legacy set, and StartFetch migrates it.
type incomingRecord struct {
	Owner  uint64
	Dest   string
	Part   string
	Force  bool
	Legacy bool // decoded from a version 1 record
}

const incomingForce = 1

func (r incomingRecord) encode() []byte {
	b := []byte{0, 2, 0}
	if r.Force {
		b[2] |= incomingForce
	}
	b = binary.AppendUvarint(b, r.Owner)
	b = binary.AppendUvarint(b, uint64(len(r.Dest)))
	b = append(b, r.Dest...)
	return append(b, r.Part...)
}

func decodeIncomingRecord(b []byte) (incomingRecord, error) {
	var r incomingRecord
	if len(b) > 0 && b[0] != 0 { // version 1: owner, dest
		o, n := binary.Uvarint(b)
		if n <= 0 {
			return r, fmt.Errorf("incoming record: %w", ErrMalformed)
		}
		r.Owner, r.Dest, r.Legacy = o, string(b[n:]), true
		return r, nil
	}
	if len(b) < 3 || b[1] != 2 {
		return r, fmt.Errorf("incoming record: %w: bad version", ErrMalformed)
	}
	r.Force = b[2]&incomingForce != 0
	p := b[3:]
	o, n := binary.Uvarint(p)
	if n <= 0 || o == 0 {
		return r, fmt.Errorf("incoming record: %w", ErrMalformed)
	}
	r.Owner, p = o, p[n:]
	dest, rest, ok := readString(p)
	if !ok {
		return r, fmt.Errorf("incoming record: %w", ErrMalformed)
	}
	r.Dest, r.Part = dest, string(rest)
	return r, nil
}

// fileRecord is a file whose bytes hold leaves, kept by reference.
//
// Version 2 (flags: 1 complete, 2 trusted) adds, for a trusted file, its
// change time and identity after the mtime. Version 1 (a byte that is 1
// when complete, no identity) still decodes, as an untrusted file; it is
// never rewritten in place: sharing the file again writes a version 2
// record. A version 1 binary cannot read version 2 records.
type fileRecord struct {
	Owner    uint64
	Complete bool  // size and mtime are final (a fetch in progress is not)
	Size     int64 // at the time it was recorded
	MTime    int64 // unix nanoseconds
	// Trusted: every leaf was hashed from this file while its stamp was
	// Size, MTime, CTime, Dev and Ino, and the file was quiet then
	// (fileStamp.quietSince); reads at that stamp are not hashed again.
	Trusted  bool
	CTime    int64
	Dev, Ino uint64
	Path     string
}

const (
	fileComplete = 1
	fileTrusted  = 2
)

// stamp is the stamp a trusted file must still have.
func (f fileRecord) stamp() fileStamp {
	return fileStamp{Size: f.Size, MTime: f.MTime, CTime: f.CTime, Dev: f.Dev, Ino: f.Ino}
}

func (f fileRecord) encode() []byte {
	b := []byte{2, 0}
	if f.Complete {
		b[1] |= fileComplete
	}
	if f.Trusted {
		b[1] |= fileTrusted
	}
	b = binary.AppendUvarint(b, f.Owner)
	b = binary.AppendVarint(b, f.Size)
	b = binary.AppendVarint(b, f.MTime)
	if f.Trusted {
		b = binary.AppendVarint(b, f.CTime)
		b = binary.AppendUvarint(b, f.Dev)
		b = binary.AppendUvarint(b, f.Ino)
	}
	return append(b, f.Path...)
}

func decodeFileRecord(b []byte) (fileRecord, error) {
	var f fileRecord
	if len(b) < 2 || (b[0] != 1 && b[0] != 2) {
		return f, fmt.Errorf("file record: %w: bad version", ErrMalformed)
	}
	if b[0] == 1 {
		f.Complete = b[1] == 1
	} else {
		f.Complete, f.Trusted = b[1]&fileComplete != 0, b[1]&fileTrusted != 0
	}
	p := b[2:]
	o, n := binary.Uvarint(p)
	if n <= 0 {
		return f, fmt.Errorf("file record: %w", ErrMalformed)
	}
	f.Owner, p = o, p[n:]
	ints := []*int64{&f.Size, &f.MTime}
	if f.Trusted {
		ints = append(ints, &f.CTime)
	}
	for _, v := range ints {
		x, n := binary.Varint(p)
		if n <= 0 {
			return f, fmt.Errorf("file record: %w", ErrMalformed)
		}
		*v, p = x, p[n:]
	}
	if f.Trusted {
		for _, v := range []*uint64{&f.Dev, &f.Ino} {
			x, n := binary.Uvarint(p)
			if n <= 0 {
				return f, fmt.Errorf("file record: %w", ErrMalformed)
			}
			*v, p = x, p[n:]
		}
	}
	f.Path = string(p)
	return f, nil
}
