package swarm

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Wire format of /myco/swarm/1.0.0.
//
// Every message is a frame: a uvarint length L, then L bytes of body. The
// body is one type byte (MsgType) followed by the type's payload, whose
// fields are uvarints, single bytes and uvarint-length-prefixed byte strings:
//
//	handshake       version, root CID (bytes), leaf count
//	bitfield        leaf count, (count+7)/8 bytes, leaf 0 in the high bit
//	have            leaf index
//	interested, not-interested, choke, unchoke: empty
//	request, cancel ref
//	block           ref, the block's bytes (the rest of the body)
//	reject          ref, reason byte
//	peers           count, then per peer: peer ID (bytes), address count,
//	                addresses (bytes each)
//
// A ref is a kind byte, then for kind 0 (leaf) the leaf index, for kind 1
// (internal node) the node's CID (bytes). A body that has bytes left after
// the last field is rejected.

const (
	refLeaf = 0
	refNode = 1
)

// AppendMessage appends the frame of m (length prefix and body) to dst. It
// returns an error, and dst unchanged, if m is not a valid message.
func AppendMessage(dst []byte, m Message) ([]byte, error) {
	if err := m.validate(); err != nil {
		return dst, err
	}
	body := 1 + m.payloadLen()
	if body > MaxMessageSize {
		return dst, wireErr("encode "+m.Type().String(), ErrMessageTooLarge,
			"%d bytes, at most %d allowed", body, MaxMessageSize)
	}
	dst = binary.AppendUvarint(dst, uint64(body))
	dst = append(dst, byte(m.Type()))
	return m.appendPayload(dst), nil
}

// DecodeMessage decodes one message body (type byte and payload, without the
// length prefix). A decoded Block's Data aliases body.
func DecodeMessage(body []byte) (Message, error) {
	var d decoder
	return d.message(body)
}

// message decodes body with d, which callers reuse so that it does not
// escape to the heap once per message.
func (d *decoder) message(body []byte) (Message, error) {
	if len(body) == 0 {
		return nil, wireErr("decode message", ErrEmptyMessage, "no type byte")
	}
	if len(body) > MaxMessageSize {
		return nil, wireErr("decode message", ErrMessageTooLarge,
			"%d bytes, at most %d allowed", len(body), MaxMessageSize)
	}
	t := MsgType(body[0])
	m := newMessage(t)
	if m == nil {
		return nil, wireErr("decode message", ErrUnknownType, "type byte %d", body[0])
	}
	*d = decoder{t: t, b: body[1:]}
	m.decode(d)
	if d.err == nil && len(d.b) != 0 {
		d.fail(ErrTrailingData, "%d bytes after the last field", len(d.b))
	}
	err := d.err
	*d = decoder{}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Reader reads frames from a stream. It reuses one buffer, which grows to the
// largest message read and never beyond the reader's maximum size; with a
// FramePool, frames larger than smallFrame (blocks) are read into a buffer
// lent by the pool instead, so that buffer stays small.
type Reader struct {
	br  *bufio.Reader
	lr  lengthReader // br, as a frame's length is read from it
	buf []byte
	max int
	dec decoder

	frames *FramePool
	lent   []byte // the pool's buffer holding the last message, if any
	// leaves, if set, gives the buffers a leaf's data is read straight
	// into (UseLeafBuffers); owned is the one holding the last message's
	// data until TakeLeaf or Release.
	leaves LeafBuffers
	owned  []byte
	// large, if set, is called with the length of every frame larger
	// than smallFrame before a buffer is found for its body; progress
	// after every bodyChunk bytes of such a body.
	large    func(n int) error
	progress func()
}

// bodyChunk is how much of a large frame's body a Reader reads between
// two calls of its progress hook.
const bodyChunk = 32 << 10

// smallFrame is the largest frame a Reader with a FramePool reads into its
// own buffer: every message but a block (and a bitfield of more than half
// a million leaves).
const smallFrame = 64 << 10

// FramePool lends Readers the buffers they read blocks into, so the readers
// of many streams share a few instead of each keeping one of
// MaxMessageSize for the life of its stream. A reader takes one only once a
// block's frame starts and gives it back once the block is copied out.
// It never waits for one: while all are lent, a reader reads the block into
// a buffer of its own that grows with the bytes that arrive and is dropped
// once the block is copied out, so a peer that sends a block's length and
// then nothing holds one buffer, not every reader of the node (see the
// package doc, Memory). Safe for concurrent use.
type FramePool struct {
	mu   sync.Mutex
	n    int // buffers at most, lent or free
	lent int
	free [][]byte
}

// NewFramePool returns a pool of at most n buffers.
func NewFramePool(n int) *FramePool { return &FramePool{n: n} }

// get returns a free buffer of MaxMessageSize bytes, or nil when all n are
// lent.
func (p *FramePool) get() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lent >= p.n {
		return nil
	}
	p.lent++
	if k := len(p.free); k > 0 {
		b := p.free[k-1]
		p.free = p.free[:k-1]
		return b
	}
	return make([]byte, MaxMessageSize)
}

func (p *FramePool) put(b []byte) {
	p.mu.Lock()
	p.free = append(p.free, b)
	p.lent--
	p.mu.Unlock()
}

// UseFramePool makes r read frames larger than smallFrame into buffers
// lent by p, or into a growing buffer of its own while p has none free.
// Call before the first ReadMessage.
func (r *Reader) UseFramePool(p *FramePool) { r.frames = p }

// OnLargeFrame makes r call before with the length of every frame larger
// than smallFrame, once the length is read and before any buffer is taken
// for the body (an error from it is ReadMessage's), and progress after
// every bodyChunk bytes of that body. A session waits in before for what
// the block will need next (its download tokens, room at the store), so
// that no buffer is held while it waits, and learns from progress that
// the sender is still sending. Call before the first ReadMessage.
func (r *Reader) OnLargeFrame(before func(n int) error, progress func()) {
	r.large, r.progress = before, progress
}

// LeafBuffers gives a Reader the buffers it reads leaves into. Get returns
// a buffer of n bytes at once (it must not wait: see FramePool); Put takes
// back one the reader's user did not take (TakeLeaf).
type LeafBuffers interface {
	Get(n int) []byte
	Put(b []byte)
}

// UseLeafBuffers makes r read the data of every large leaf Block straight
// into a buffer from b, once the frame's header is read: no frame buffer
// and no copy. The Block's Data is that buffer; the reader's user may
// keep it (TakeLeaf), or it goes back to b at the next ReadMessage or
// Release. Other large frames (nodes, large bitfields) still use the
// FramePool. Call before the first ReadMessage.
func (r *Reader) UseLeafBuffers(b LeafBuffers) { r.leaves = b }

// TakeLeaf returns the buffer holding the last message's data if it is a
// leaf read into a buffer from UseLeafBuffers, and nil otherwise. The
// caller owns it from then on (the reader forgets it).
func (r *Reader) TakeLeaf() []byte {
	b := r.owned
	r.owned = nil
	return b
}

// Release gives the buffer holding the last message back to the pool:
// that message's data must not be used after. ReadMessage releases it
// too; Release frees it sooner, once a block has been copied out.
func (r *Reader) Release() {
	if r.lent != nil {
		r.frames.put(r.lent)
		r.lent = nil
	}
	if r.owned != nil {
		r.leaves.Put(r.owned)
		r.owned = nil
	}
}

// NewReader returns a Reader of r that refuses frames longer than maxSize
// bytes; maxSize <= 0 or above MaxMessageSize means MaxMessageSize.
func NewReader(r io.Reader, maxSize int) *Reader {
	if maxSize <= 0 || maxSize > MaxMessageSize {
		maxSize = MaxMessageSize
	}
	br := bufio.NewReaderSize(r, 4096)
	return &Reader{br: br, lr: lengthReader{br: br}, max: maxSize}
}

// ReadMessage reads the next message. It returns io.EOF if the stream ends
// cleanly between messages, and io.ErrUnexpectedEOF (wrapped) if it ends
// inside one. The frame's length is checked against the maximum before any
// buffer is grown. A Block's Data is valid until the next call or Release.
func (r *Reader) ReadMessage() (Message, error) {
	r.Release()
	r.lr.err = nil
	n, err := binary.ReadUvarint(&r.lr)
	if err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		if r.lr.err == nil { // the stream is fine: the length overflows
			return nil, wireErr("read message length", ErrBadVarint, "%v", err)
		}
		return nil, fmt.Errorf("read message length: %w", err)
	}
	if n > uint64(r.max) {
		return nil, wireErr("read message", ErrMessageTooLarge,
			"length %d, at most %d allowed", n, r.max)
	}
	large := r.frames != nil && n > smallFrame
	if large && r.large != nil {
		if err := r.large(int(n)); err != nil {
			return nil, fmt.Errorf("read message body: %w", err)
		}
	}
	if large && r.leaves != nil {
		if m, ok, err := r.readLeaf(int(n)); ok {
			return m, r.bodyErr(err)
		}
	}
	body, err := r.readBody(int(n), large)
	if err != nil {
		return nil, r.bodyErr(err)
	}
	m, err := r.dec.message(body)
	if err != nil {
		r.Release()
	}
	return m, err
}

// bodyErr is an error reading a body as ReadMessage returns it, once the
// body's buffer is given back (nil stays nil).
func (r *Reader) bodyErr(err error) error {
	if err == nil {
		return nil
	}
	r.Release()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read message body: %w", err)
}

// lengthReader is the byte reader binary.ReadUvarint reads a frame's
// length through: it keeps the stream's own error, so that an error with
// none is the length's (it overflows 64 bits: the peer's fault) and any
// other the stream's (a reset, a closed connection).
type lengthReader struct {
	br  *bufio.Reader
	err error
}

func (l *lengthReader) ReadByte() (byte, error) {
	c, err := l.br.ReadByte()
	if err != nil {
		l.err = err
	}
	return c, err
}

// leafHeader is the most a leaf Block's header takes: the type, the ref's
// kind and its index.
const leafHeader = 2 + binary.MaxVarintLen64

// readLeaf reads a large frame of n bytes that is a leaf Block with
// acceptable fields straight into a buffer from r.leaves (r.owned, which
// Release gives back); ok is false, with nothing consumed, for any other
// frame, which the decoder then reads (and rejects, if it must).
func (r *Reader) readLeaf(n int) (m Message, ok bool, err error) {
	hdr, _ := r.br.Peek(min(n, leafHeader))
	if len(hdr) < 3 || MsgType(hdr[0]) != MsgBlock || hdr[1] != refLeaf {
		return nil, false, nil
	}
	i, k := binary.Uvarint(hdr[2:])
	size := n - 2 - k
	if k <= 0 || i >= MaxLeaves || size > MaxBlockSize {
		return nil, false, nil
	}
	if _, err := r.br.Discard(2 + k); err != nil {
		return nil, true, err
	}
	r.owned = r.leaves.Get(size)
	if _, err := r.fill(r.owned); err != nil {
		return nil, true, err
	}
	return &Block{Ref: LeafRef(int(i)), Data: r.owned}, true, nil
}

// readBody reads a body of n bytes: into the reader's own buffer, or for
// a large frame with a FramePool into a pooled buffer, or while the pool
// has none free into a growing one (growFrame).
func (r *Reader) readBody(n int, large bool) ([]byte, error) {
	if !large {
		if cap(r.buf) < n {
			r.buf = make([]byte, n)
		}
		body := r.buf[:n]
		_, err := io.ReadFull(r.br, body)
		return body, err
	}
	if b := r.frames.get(); b != nil {
		r.lent = b
		_, err := r.fill(b[:n])
		return b[:n], err
	}
	return r.growFrame(n)
}

// fill reads len(p) bytes of a large frame's body, in bodyChunk pieces
// when there is a progress hook to call after each.
func (r *Reader) fill(p []byte) (int, error) {
	if r.progress == nil {
		return io.ReadFull(r.br, p)
	}
	got := 0
	for got < len(p) {
		k, err := io.ReadFull(r.br, p[got:min(len(p), got+bodyChunk)])
		got += k
		if err != nil {
			return got, err
		}
		r.progress()
	}
	return got, nil
}

// growFrame reads a body of n bytes into a buffer of its own: first into
// one of growStart bytes, and only once that is full into one of n, so a
// peer that stops sending makes us hold about four times what it sent at
// most, and an honest block costs one copy of its first growStart bytes.
// The buffer is garbage once the message is used.
func (r *Reader) growFrame(n int) ([]byte, error) {
	b := make([]byte, min(n, growStart))
	got, err := r.fill(b)
	if err != nil || got == n {
		return b[:got], err
	}
	whole := make([]byte, n)
	copy(whole, b)
	k, err := r.fill(whole[got:])
	return whole[:got+k], err
}

// growStart is the first buffer of growFrame.
const growStart = 256 << 10

// Writer writes frames to a stream, reusing one buffer for headers and small
// messages. A Block's data is written straight from the caller's slice.
type Writer struct {
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// copyLimit is the largest block Data a Writer copies into its own buffer to
// write the frame in one call; larger blocks go in a second write.
const copyLimit = 4096

// WriteMessage encodes m and writes it.
func (w *Writer) WriteMessage(m Message) error {
	if b, ok := m.(*Block); ok && len(b.Data) > copyLimit {
		return w.writeBlock(b)
	}
	buf, err := AppendMessage(w.buf[:0], m)
	if err != nil {
		return err
	}
	w.buf = buf
	if _, err := w.w.Write(buf); err != nil {
		return fmt.Errorf("write %v: %w", m.Type(), err)
	}
	return nil
}

func (w *Writer) writeBlock(b *Block) error {
	if err := b.validate(); err != nil {
		return err
	}
	body := 1 + b.payloadLen()
	if body > MaxMessageSize {
		return wireErr("encode block", ErrMessageTooLarge, "%d bytes, at most %d allowed", body, MaxMessageSize)
	}
	buf := binary.AppendUvarint(w.buf[:0], uint64(body))
	buf = append(buf, byte(MsgBlock))
	buf = appendRef(buf, b.Ref)
	w.buf = buf
	if _, err := w.w.Write(buf); err != nil {
		return fmt.Errorf("write block: %w", err)
	}
	if _, err := w.w.Write(b.Data); err != nil {
		return fmt.Errorf("write block: %w", err)
	}
	return nil
}

// decoder reads fields from a body. The first error sticks: later reads
// return zero values, so decode methods need not check after every field.
type decoder struct {
	t   MsgType
	b   []byte
	err error
}

func (d *decoder) fail(code ErrorCode, format string, args ...any) {
	if d.err == nil {
		d.err = wireErr("decode "+d.t.String(), code, format, args...)
	}
}

func (d *decoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	switch {
	case n == 0:
		d.fail(ErrTruncated, "%s missing", field)
		return 0
	case n < 0:
		d.fail(ErrBadVarint, "%s overflows 64 bits", field)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte(field string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail(ErrTruncated, "%s missing", field)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// bytes reads a uvarint-length-prefixed field of at most limit bytes. The
// result aliases the body.
func (d *decoder) bytes(field string, limit int) []byte {
	n := d.uvarint(field + " length")
	if d.err != nil {
		return nil
	}
	if n > uint64(limit) {
		d.fail(ErrFieldTooLarge, "%s is %d bytes, at most %d allowed", field, n, limit)
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(ErrTruncated, "%s needs %d bytes, %d left", field, n, len(d.b))
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

// index reads a leaf index below MaxLeaves.
func (d *decoder) index(field string) int {
	v := d.uvarint(field)
	if d.err == nil && v >= MaxLeaves {
		d.fail(ErrIndexRange, "%s %d, must be below %d", field, v, MaxLeaves)
		return 0
	}
	return int(v)
}

func (d *decoder) cid(field string) cid.Cid {
	p := d.bytes(field, maxCIDLen)
	if d.err != nil {
		return cid.Undef
	}
	c, err := cid.Cast(p)
	if err != nil {
		d.fail(ErrBadCID, "%s: %v", field, err)
		return cid.Undef
	}
	return c
}

func (d *decoder) ref() Ref {
	switch kind := d.byte("ref kind"); {
	case d.err != nil:
		return Ref{}
	case kind == refLeaf:
		return Ref{Index: d.index("leaf index")}
	case kind == refNode:
		return Ref{CID: d.cid("node CID")}
	default:
		d.fail(ErrBadRef, "ref kind %d", kind)
		return Ref{}
	}
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func bytesLen(n int) int { return uvarintLen(uint64(n)) + n }

func refLen(r Ref) int {
	if r.IsLeaf() {
		return 1 + uvarintLen(uint64(r.Index))
	}
	return 1 + bytesLen(r.CID.ByteLen())
}

func appendRef(dst []byte, r Ref) []byte {
	if r.IsLeaf() {
		return binary.AppendUvarint(append(dst, refLeaf), uint64(r.Index))
	}
	dst = binary.AppendUvarint(append(dst, refNode), uint64(r.CID.ByteLen()))
	return append(dst, r.CID.KeyString()...)
}

func validateIndex(op string, i int) error {
	if i < 0 || i >= MaxLeaves {
		return wireErr(op, ErrIndexRange, "leaf index %d, must be in [0,%d)", i, MaxLeaves)
	}
	return nil
}

func validateRef(op string, r Ref) error {
	if r.IsLeaf() {
		return validateIndex(op, r.Index)
	}
	if r.CID.ByteLen() > maxCIDLen {
		return wireErr(op, ErrFieldTooLarge, "CID is %d bytes, at most %d allowed", r.CID.ByteLen(), maxCIDLen)
	}
	return nil
}

// Handshake

func (m *Handshake) validate() error {
	if !m.Root.Defined() {
		return wireErr("encode handshake", ErrBadCID, "root CID undefined")
	}
	if m.Root.ByteLen() > maxCIDLen {
		return wireErr("encode handshake", ErrFieldTooLarge, "root CID is %d bytes", m.Root.ByteLen())
	}
	if m.Leaves < 0 || m.Leaves > MaxLeaves {
		return wireErr("encode handshake", ErrIndexRange, "%d leaves, must be in [0,%d]", m.Leaves, MaxLeaves)
	}
	if m.Name != "" {
		if err := CheckName(m.Name); err != nil {
			return wireErr("encode handshake", ErrBadName, "%v", err)
		}
	}
	if err := checkTerms(m.Price, m.PayTo); err != "" {
		return wireErr("encode handshake", ErrBadTerms, "%s", err)
	}
	return nil
}

// checkTerms says what is wrong with a price and payee ("" when nothing).
func checkTerms(price uint64, payTo []byte) string {
	switch {
	case price > 0 && len(payTo) == 0:
		return "a price without a payee"
	case price == 0 && len(payTo) > 0:
		return "a payee without a price"
	case len(payTo) > MaxPayToLen:
		return fmt.Sprintf("payee of %d bytes, at most %d allowed", len(payTo), MaxPayToLen)
	}
	return ""
}

// extended reports whether the handshake has fields after the name.
func (m *Handshake) extended() bool { return m.Price > 0 || m.Pays }

func (m *Handshake) payloadLen() int {
	n := uvarintLen(m.Version) + bytesLen(m.Root.ByteLen()) + uvarintLen(uint64(m.Leaves))
	if m.Name != "" || m.extended() {
		n += bytesLen(len(m.Name))
	}
	if m.extended() {
		n += uvarintLen(m.Price) + bytesLen(len(m.PayTo)) + 1
	}
	return n
}

func (m *Handshake) appendPayload(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, m.Version)
	dst = binary.AppendUvarint(dst, uint64(m.Root.ByteLen()))
	dst = append(dst, m.Root.KeyString()...)
	dst = binary.AppendUvarint(dst, uint64(m.Leaves))
	if m.Name != "" || m.extended() {
		dst = binary.AppendUvarint(dst, uint64(len(m.Name)))
		dst = append(dst, m.Name...)
	}
	if m.extended() {
		dst = binary.AppendUvarint(dst, m.Price)
		dst = binary.AppendUvarint(dst, uint64(len(m.PayTo)))
		dst = append(dst, m.PayTo...)
		pays := byte(0)
		if m.Pays {
			pays = 1
		}
		dst = append(dst, pays)
	}
	return dst
}

func (m *Handshake) decode(d *decoder) {
	m.Version = d.uvarint("version")
	m.Root = d.cid("root CID")
	n := d.uvarint("leaf count")
	if d.err == nil && n > MaxLeaves {
		d.fail(ErrIndexRange, "%d leaves, at most %d allowed", n, MaxLeaves)
	}
	m.Leaves = int(n)
	// The name is optional: a handshake without one ends here, as
	// handshakes did before names existed.
	if d.err != nil || len(d.b) == 0 {
		return
	}
	name := d.bytes("name", MaxNameLen)
	if d.err != nil {
		return
	}
	// An empty name stands in for none when the terms follow.
	if len(name) > 0 || len(d.b) == 0 {
		if err := CheckName(string(name)); err != nil {
			d.fail(ErrBadName, "%v", err)
			return
		}
		m.Name = string(name)
	}
	if len(d.b) == 0 {
		return
	}
	m.Price = d.uvarint("price")
	payTo := d.bytes("payee", MaxPayToLen)
	pays := d.byte("pays")
	if d.err != nil {
		return
	}
	if pays > 1 {
		d.fail(ErrBadTerms, "pays flag %d", pays)
		return
	}
	if err := checkTerms(m.Price, payTo); err != "" {
		d.fail(ErrBadTerms, "%s", err)
		return
	}
	if len(payTo) > 0 {
		m.PayTo = slices.Clone(payTo)
	}
	m.Pays = pays == 1
}

// BitfieldMsg

func (m *BitfieldMsg) validate() error {
	if m.Have == nil {
		return wireErr("encode bitfield", ErrBadBitfield, "nil bitfield")
	}
	if m.Have.Len() > MaxLeaves {
		return wireErr("encode bitfield", ErrIndexRange, "%d leaves, at most %d allowed", m.Have.Len(), MaxLeaves)
	}
	return nil
}

func (m *BitfieldMsg) payloadLen() int {
	return uvarintLen(uint64(m.Have.Len())) + (m.Have.Len()+7)/8
}

func (m *BitfieldMsg) appendPayload(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(m.Have.Len()))
	return m.Have.AppendBytes(dst)
}

func (m *BitfieldMsg) decode(d *decoder) {
	n := d.uvarint("leaf count")
	if d.err != nil {
		return
	}
	if n > MaxLeaves {
		d.fail(ErrIndexRange, "%d leaves, at most %d allowed", n, MaxLeaves)
		return
	}
	size := (int(n) + 7) / 8
	if size > len(d.b) {
		d.fail(ErrTruncated, "bitfield of %d leaves needs %d bytes, %d left", n, size, len(d.b))
		return
	}
	bf, err := BitfieldFromBytes(d.b[:size], int(n))
	if err != nil {
		d.err = err
		return
	}
	d.b = d.b[size:]
	m.Have = bf
}

// Have

func (m *Have) validate() error                 { return validateIndex("encode have", m.Index) }
func (m *Have) payloadLen() int                 { return uvarintLen(uint64(m.Index)) }
func (m *Have) appendPayload(dst []byte) []byte { return binary.AppendUvarint(dst, uint64(m.Index)) }
func (m *Have) decode(d *decoder)               { m.Index = d.index("leaf index") }

// Messages without a payload.

func (*Interested) validate() error                    { return nil }
func (*Interested) payloadLen() int                    { return 0 }
func (*Interested) appendPayload(dst []byte) []byte    { return dst }
func (*Interested) decode(*decoder)                    {}
func (*NotInterested) validate() error                 { return nil }
func (*NotInterested) payloadLen() int                 { return 0 }
func (*NotInterested) appendPayload(dst []byte) []byte { return dst }
func (*NotInterested) decode(*decoder)                 {}
func (*Choke) validate() error                         { return nil }
func (*Choke) payloadLen() int                         { return 0 }
func (*Choke) appendPayload(dst []byte) []byte         { return dst }
func (*Choke) decode(*decoder)                         {}
func (*Unchoke) validate() error                       { return nil }
func (*Unchoke) payloadLen() int                       { return 0 }
func (*Unchoke) appendPayload(dst []byte) []byte       { return dst }
func (*Unchoke) decode(*decoder)                       {}

// Request and Cancel

func (m *Request) validate() error                 { return validateRef("encode request", m.Ref) }
func (m *Request) payloadLen() int                 { return refLen(m.Ref) }
func (m *Request) appendPayload(dst []byte) []byte { return appendRef(dst, m.Ref) }
func (m *Request) decode(d *decoder)               { m.Ref = d.ref() }
func (m *Cancel) validate() error                  { return validateRef("encode cancel", m.Ref) }
func (m *Cancel) payloadLen() int                  { return refLen(m.Ref) }
func (m *Cancel) appendPayload(dst []byte) []byte  { return appendRef(dst, m.Ref) }
func (m *Cancel) decode(d *decoder)                { m.Ref = d.ref() }

// Block

func (m *Block) validate() error {
	if len(m.Data) > MaxBlockSize {
		return wireErr("encode block", ErrMessageTooLarge, "block of %d bytes, at most %d allowed", len(m.Data), MaxBlockSize)
	}
	return validateRef("encode block", m.Ref)
}

func (m *Block) payloadLen() int { return refLen(m.Ref) + len(m.Data) }

func (m *Block) appendPayload(dst []byte) []byte {
	return append(appendRef(dst, m.Ref), m.Data...)
}

func (m *Block) decode(d *decoder) {
	m.Ref = d.ref()
	if d.err != nil {
		return
	}
	if len(d.b) > MaxBlockSize {
		d.fail(ErrMessageTooLarge, "block of %d bytes, at most %d allowed", len(d.b), MaxBlockSize)
		return
	}
	m.Data, d.b = d.b, nil
}

// Reject

func (m *Reject) validate() error {
	if _, ok := rejectReasonNames[m.Reason]; !ok {
		return wireErr("encode reject", ErrBadReason, "reason %d", m.Reason)
	}
	return validateRef("encode reject", m.Ref)
}

func (m *Reject) payloadLen() int { return refLen(m.Ref) + 1 }

func (m *Reject) appendPayload(dst []byte) []byte {
	return append(appendRef(dst, m.Ref), byte(m.Reason))
}

func (m *Reject) decode(d *decoder) {
	m.Ref = d.ref()
	m.Reason = RejectReason(d.byte("reason"))
	if _, ok := rejectReasonNames[m.Reason]; d.err == nil && !ok {
		d.fail(ErrBadReason, "reason %d", m.Reason)
	}
}

// Peers

func (m *Peers) validate() error {
	const op = "encode peers"
	if len(m.Peers) > MaxPeersPerMessage {
		return wireErr(op, ErrTooMany, "%d peers, at most %d allowed", len(m.Peers), MaxPeersPerMessage)
	}
	for _, p := range m.Peers {
		if len(p.ID) > maxPeerIDLen {
			return wireErr(op, ErrFieldTooLarge, "peer ID of %d bytes", len(p.ID))
		}
		if _, err := peer.IDFromBytes([]byte(p.ID)); err != nil {
			return wireErr(op, ErrBadPeerID, "%v", err)
		}
		if len(p.Addrs) > MaxAddrsPerPeer {
			return wireErr(op, ErrTooMany, "%d addresses for %s, at most %d allowed", len(p.Addrs), p.ID, MaxAddrsPerPeer)
		}
		for _, a := range p.Addrs {
			if n := len(a.Bytes()); n == 0 || n > maxAddrLen {
				return wireErr(op, ErrBadAddr, "address of %d bytes", n)
			}
		}
	}
	return nil
}

func (m *Peers) payloadLen() int {
	n := uvarintLen(uint64(len(m.Peers)))
	for _, p := range m.Peers {
		n += bytesLen(len(p.ID)) + uvarintLen(uint64(len(p.Addrs)))
		for _, a := range p.Addrs {
			n += bytesLen(len(a.Bytes()))
		}
	}
	return n
}

func (m *Peers) appendPayload(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(m.Peers)))
	for _, p := range m.Peers {
		dst = binary.AppendUvarint(dst, uint64(len(p.ID)))
		dst = append(dst, p.ID...)
		dst = binary.AppendUvarint(dst, uint64(len(p.Addrs)))
		for _, a := range p.Addrs {
			b := a.Bytes()
			dst = binary.AppendUvarint(dst, uint64(len(b)))
			dst = append(dst, b...)
		}
	}
	return dst
}

func (m *Peers) decode(d *decoder) {
	n := d.uvarint("peer count")
	if d.err == nil && n > MaxPeersPerMessage {
		d.fail(ErrTooMany, "%d peers, at most %d allowed", n, MaxPeersPerMessage)
	}
	if d.err != nil {
		return
	}
	m.Peers = make([]peer.AddrInfo, 0, n)
	for range n {
		var info peer.AddrInfo
		info.ID = d.peerID()
		na := d.uvarint("address count")
		if d.err == nil && na > MaxAddrsPerPeer {
			d.fail(ErrTooMany, "%d addresses, at most %d allowed", na, MaxAddrsPerPeer)
		}
		if d.err != nil {
			return
		}
		if na > 0 {
			info.Addrs = make([]ma.Multiaddr, 0, na)
		}
		for range na {
			a := d.addr()
			if d.err != nil {
				return
			}
			info.Addrs = append(info.Addrs, a)
		}
		m.Peers = append(m.Peers, info)
	}
}

func (d *decoder) peerID() peer.ID {
	p := d.bytes("peer ID", maxPeerIDLen)
	if d.err != nil {
		return ""
	}
	id, err := peer.IDFromBytes(p)
	if err != nil {
		d.fail(ErrBadPeerID, "%v", err)
		return ""
	}
	return id
}

func (d *decoder) addr() ma.Multiaddr {
	p := d.bytes("address", maxAddrLen)
	if d.err != nil {
		return nil
	}
	if len(p) == 0 {
		d.fail(ErrBadAddr, "empty address")
		return nil
	}
	a, err := ma.NewMultiaddrBytes(p)
	if err != nil {
		d.fail(ErrBadAddr, "%v", err)
		return nil
	}
	return a
}

// Payment

func (m *Payment) validate() error {
	if n := len(m.Voucher); n == 0 || n > MaxVoucherLen {
		return wireErr("encode payment", ErrFieldTooLarge, "voucher of %d bytes, want 1 to %d", n, MaxVoucherLen)
	}
	return nil
}

func (m *Payment) payloadLen() int { return bytesLen(len(m.Voucher)) }

func (m *Payment) appendPayload(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(m.Voucher)))
	return append(dst, m.Voucher...)
}

func (m *Payment) decode(d *decoder) {
	v := d.bytes("voucher", MaxVoucherLen)
	if d.err == nil && len(v) == 0 {
		d.fail(ErrTruncated, "empty voucher")
	}
	if d.err == nil {
		m.Voucher = slices.Clone(v)
	}
}
