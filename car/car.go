// Package car reads and writes CAR files (Content Addressable aRchives),
// the format IPFS tools hand DAGs to each other in: CARv1, and the CARv1
// payload inside a CARv2 (read only; its index is ignored).
//
// It owns the byte format alone: it neither verifies blocks against their
// CIDs nor knows what a DAG is (chunker does both). A CARv1 is a header,
// varint length + DAG-CBOR {roots: [CID...], version: 1}, then sections,
// each varint length + CID bytes + block bytes. A CARv2 starts with the
// 11-byte pragma (a CARv1 header saying version 2), a 40-byte header
// (characteristics, data offset, data size, index offset; little-endian)
// and holds a CARv1 at the data offset.
//
// The header is decoded by a small DAG-CBOR reader that accepts maps,
// arrays, tags, strings, bytes, integers and simple values, and needs
// "roots" (CIDs: tag 42 over bytes starting with 0x00) and "version";
// other keys are ignored. Every length is checked against a limit before
// anything is allocated: a header at most MaxHeaderSize, a section at
// most MaxSectionSize. A file that ends inside a header or section is
// ErrTruncated; anything malformed is ErrMalformed. Both are fuzzed.
package car

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/ipfs/go-cid"
)

// Limits applied before any allocation.
const (
	MaxHeaderSize  = 1 << 20
	MaxSectionSize = 2<<20 + 256 // the largest block (2 MiB) plus a generous CID
	maxRoots       = 1 << 10
)

var (
	// ErrTruncated: the CAR ends inside its header or a section.
	ErrTruncated = errors.New("CAR file truncated")
	// ErrMalformed: the CAR breaks a rule of the format.
	ErrMalformed = errors.New("malformed CAR file")
)

// Writer writes a CARv1 stream. Blocks go out as Put is called, through
// a buffer; Flush at the end.
type Writer struct {
	w   *bufio.Writer
	buf []byte
}

// NewWriter writes the CARv1 header naming roots to w.
func NewWriter(w io.Writer, roots ...cid.Cid) (*Writer, error) {
	if len(roots) == 0 || len(roots) > maxRoots {
		return nil, fmt.Errorf("write CAR: %d roots", len(roots))
	}
	cw := &Writer{w: bufio.NewWriterSize(w, 256<<10)}
	h := encodeHeader(roots)
	cw.buf = binary.AppendUvarint(cw.buf[:0], uint64(len(h)))
	cw.buf = append(cw.buf, h...)
	if _, err := cw.w.Write(cw.buf); err != nil {
		return nil, fmt.Errorf("write CAR header: %w", err)
	}
	return cw, nil
}

// Put writes one section: c and its block's bytes.
func (w *Writer) Put(c cid.Cid, data []byte) error {
	cb := c.Bytes()
	w.buf = binary.AppendUvarint(w.buf[:0], uint64(len(cb)+len(data)))
	w.buf = append(w.buf, cb...)
	if _, err := w.w.Write(w.buf); err != nil {
		return fmt.Errorf("write CAR: %w", err)
	}
	if _, err := w.w.Write(data); err != nil {
		return fmt.Errorf("write CAR: %w", err)
	}
	return nil
}

// Flush writes out what is buffered.
func (w *Writer) Flush() error {
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("write CAR: %w", err)
	}
	return nil
}

// encodeHeader is the canonical DAG-CBOR of {roots, version: 1}: keys
// sorted by length, then bytes ("roots" before "version").
func encodeHeader(roots []cid.Cid) []byte {
	h := []byte{0xa2}
	h = appendCBORHead(h, 3, 5)
	h = append(h, "roots"...)
	h = appendCBORHead(h, 4, uint64(len(roots)))
	for _, r := range roots {
		b := r.Bytes()
		h = appendCBORHead(h, 6, 42)
		h = appendCBORHead(h, 2, uint64(len(b)+1))
		h = append(h, 0)
		h = append(h, b...)
	}
	h = appendCBORHead(h, 3, 7)
	h = append(h, "version"...)
	return appendCBORHead(h, 0, 1)
}

// appendCBORHead appends a CBOR item head of major type major with
// argument v, in its shortest form.
func appendCBORHead(b []byte, major byte, v uint64) []byte {
	m := major << 5
	switch {
	case v < 24:
		return append(b, m|byte(v))
	case v <= 0xff:
		return append(b, m|24, byte(v))
	case v <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(v))
	case v <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), v)
}

// Reader reads the sections of a CAR, v1 or v2.
type Reader struct {
	r       *bufio.Reader
	left    int64 // bytes of CARv1 payload left, or -1 for "to the end"
	Roots   []cid.Cid
	Version int // 1 or 2: the file's own version
	buf     []byte
}

// NewReader reads the header (and, for a CARv2, skips to its payload).
func NewReader(r io.Reader) (*Reader, error) {
	cr := &Reader{r: bufio.NewReaderSize(r, 256<<10), left: -1, Version: 1}
	roots, version, err := cr.header()
	if err != nil {
		return nil, err
	}
	if version == 2 {
		if roots != nil {
			return nil, fmt.Errorf("%w: CARv2 pragma with roots", ErrMalformed)
		}
		if err := cr.v2(); err != nil {
			return nil, err
		}
		cr.Version = 2
		if roots, version, err = cr.header(); err != nil {
			return nil, err
		}
		if version != 1 {
			return nil, fmt.Errorf("%w: CARv2 payload of version %d", ErrMalformed, version)
		}
	}
	if version != 1 {
		return nil, fmt.Errorf("%w: version %d (want 1 or 2)", ErrMalformed, version)
	}
	if len(roots) == 0 {
		return nil, fmt.Errorf("%w: no roots", ErrMalformed)
	}
	cr.Roots = roots
	return cr, nil
}

// v2 reads the 40-byte CARv2 header after the pragma and skips to the
// payload, which it then reads alone.
func (cr *Reader) v2() error {
	var h [40]byte
	if _, err := io.ReadFull(cr.r, h[:]); err != nil {
		return truncated("CARv2 header", err)
	}
	off := binary.LittleEndian.Uint64(h[16:])
	size := binary.LittleEndian.Uint64(h[24:])
	const pragmaAndHeader = 11 + 40
	if off < pragmaAndHeader || size > 1<<62 || off > 1<<62 {
		return fmt.Errorf("%w: CARv2 data offset %d, size %d", ErrMalformed, off, size)
	}
	if _, err := io.CopyN(io.Discard, cr.r, int64(off-pragmaAndHeader)); err != nil {
		return truncated("CARv2 padding", err)
	}
	cr.left = int64(size)
	return nil
}

// header reads a varint-prefixed DAG-CBOR header and returns its roots and
// version. The CARv2 pragma decodes as version 2 and no roots.
func (cr *Reader) header() ([]cid.Cid, uint64, error) {
	n, err := cr.uvarint()
	if err != nil {
		return nil, 0, err
	}
	if n == 0 || n > MaxHeaderSize {
		return nil, 0, fmt.Errorf("%w: header of %d bytes", ErrMalformed, n)
	}
	b := make([]byte, n)
	if err := cr.full(b); err != nil {
		return nil, 0, truncated("header", err)
	}
	return decodeHeader(b)
}

// Next returns the next section's CID and block bytes (valid until the
// next call), or io.EOF after the last.
func (cr *Reader) Next() (cid.Cid, []byte, error) {
	if cr.left == 0 {
		return cid.Undef, nil, io.EOF
	}
	if _, err := cr.r.Peek(1); err == io.EOF {
		if cr.left > 0 {
			return cid.Undef, nil, fmt.Errorf("%w: CARv2 payload ends %d bytes early", ErrTruncated, cr.left)
		}
		return cid.Undef, nil, io.EOF
	}
	n, err := cr.uvarint()
	if err != nil {
		return cid.Undef, nil, err
	}
	if n == 0 || n > MaxSectionSize {
		return cid.Undef, nil, fmt.Errorf("%w: section of %d bytes", ErrMalformed, n)
	}
	if cap(cr.buf) < int(n) {
		cr.buf = make([]byte, n)
	}
	b := cr.buf[:n]
	if err := cr.full(b); err != nil {
		return cid.Undef, nil, truncated("section", err)
	}
	k, c, err := cid.CidFromBytes(b)
	if err != nil {
		return cid.Undef, nil, fmt.Errorf("%w: section CID: %v", ErrMalformed, err)
	}
	return c, b[k:], nil
}

func (cr *Reader) uvarint() (uint64, error) {
	var v uint64
	for i := 0; i < binary.MaxVarintLen64; i++ {
		b, err := cr.r.ReadByte()
		if err != nil {
			if i == 0 && err == io.EOF {
				return 0, fmt.Errorf("%w: ends before a length", ErrTruncated)
			}
			return 0, truncated("length", err)
		}
		if err := cr.consume(1); err != nil {
			return 0, err
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			if i > 0 && b == 0 {
				return 0, fmt.Errorf("%w: varint not minimal", ErrMalformed)
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: varint too long", ErrMalformed)
}

// full reads exactly len(b) bytes of the payload.
func (cr *Reader) full(b []byte) error {
	if err := cr.consume(int64(len(b))); err != nil {
		return err
	}
	_, err := io.ReadFull(cr.r, b)
	return err
}

// consume counts n bytes against a CARv2 payload's declared size.
func (cr *Reader) consume(n int64) error {
	if cr.left < 0 {
		return nil
	}
	if n > cr.left {
		return fmt.Errorf("%w: section runs past the CARv2 payload", ErrMalformed)
	}
	cr.left -= n
	return nil
}

func truncated(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: ends inside the %s", ErrTruncated, what)
	}
	if errors.Is(err, ErrMalformed) || errors.Is(err, ErrTruncated) {
		return err
	}
	return fmt.Errorf("read CAR %s: %w", what, err)
}
