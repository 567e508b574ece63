package swarm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"
	"testing/iotest"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	mh "github.com/multiformats/go-multihash"
)

func testCID(t testing.TB, s string) cid.Cid {
	t.Helper()
	h, err := mh.Sum([]byte(s), mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.DagProtobuf, h)
}

func testPeerID(t testing.TB, s string) peer.ID {
	t.Helper()
	h, err := mh.Sum([]byte(s), mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return peer.ID(h)
}

func testAddr(t testing.TB, s string) ma.Multiaddr {
	t.Helper()
	a, err := ma.NewMultiaddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// sampleMessages returns one valid message of every type, some twice with
// different shapes.
func sampleMessages(t testing.TB) []Message {
	bf := NewBitfield(11)
	bf.Set(0)
	bf.Set(10)
	return []Message{
		&Handshake{Version: ProtocolVersion, Root: testCID(t, "root"), Leaves: 512},
		&Handshake{Version: ProtocolVersion, Root: testCID(t, "root"), Leaves: 0},
		&Handshake{Version: ProtocolVersion, Root: testCID(t, "root"), Leaves: 3, Name: "holiday photos.tar"},
		&Handshake{Version: ProtocolVersion, Root: testCID(t, "root"), Leaves: 3, Price: 1500, PayTo: []byte("payee-address")},
		&Handshake{Version: ProtocolVersion, Root: testCID(t, "root"), Name: "a", Pays: true},
		&Handshake{Version: ProtocolVersion, Root: testCID(t, "root"), Name: "b", Price: 1, PayTo: []byte{1}, Pays: true},
		&BitfieldMsg{Have: bf},
		&BitfieldMsg{Have: NewBitfield(0)},
		&Have{Index: 300},
		&Interested{},
		&NotInterested{},
		&Choke{},
		&Unchoke{},
		&Request{Ref: LeafRef(7)},
		&Request{Ref: NodeRef(testCID(t, "node"))},
		&Cancel{Ref: LeafRef(MaxLeaves - 1)},
		&Block{Ref: LeafRef(2), Data: []byte("leaf two")},
		&Block{Ref: NodeRef(testCID(t, "node")), Data: bytes.Repeat([]byte{7}, 5000)},
		&Block{Ref: LeafRef(0), Data: []byte{}},
		&Reject{Ref: LeafRef(9), Reason: RejectChoked},
		&Peers{Peers: []peer.AddrInfo{
			{ID: testPeerID(t, "a"), Addrs: []ma.Multiaddr{testAddr(t, "/ip4/127.0.0.1/tcp/4001"), testAddr(t, "/ip4/127.0.0.1/udp/4001/quic-v1")}},
			{ID: testPeerID(t, "b")},
		}},
		&Peers{},
		&Payment{Voucher: bytes.Repeat([]byte{9}, 108)},
	}
}

// equalMessages compares two messages by their encoding, which is canonical.
func equalMessages(t *testing.T, got, want Message) {
	t.Helper()
	g, err := AppendMessage(nil, got)
	if err != nil {
		t.Fatalf("re-encode %v: %v", got.Type(), err)
	}
	w, _ := AppendMessage(nil, want)
	if !bytes.Equal(g, w) || got.Type() != want.Type() {
		t.Errorf("%v: decoded %+v, want %+v", want.Type(), got, want)
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range sampleMessages(t) {
		frame, err := AppendMessage(nil, m)
		if err != nil {
			t.Fatalf("encode %v: %v", m.Type(), err)
		}
		n, k := binary.Uvarint(frame)
		if k <= 0 || int(n) != len(frame)-k {
			t.Fatalf("%v: length prefix %d does not match body of %d bytes", m.Type(), n, len(frame)-k)
		}
		got, err := DecodeMessage(frame[k:])
		if err != nil {
			t.Fatalf("decode %v: %v", m.Type(), err)
		}
		if reflect.TypeOf(got) != reflect.TypeOf(m) {
			t.Fatalf("decoded %T, want %T", got, m)
		}
		equalMessages(t, got, m)
	}
}

func TestPeersRoundTripKeepsFields(t *testing.T) {
	in := &Peers{Peers: []peer.AddrInfo{{ID: testPeerID(t, "a"), Addrs: []ma.Multiaddr{testAddr(t, "/ip4/127.0.0.1/tcp/1")}}}}
	frame, err := AppendMessage(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewReader(bytes.NewReader(frame), 0).ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	out := m.(*Peers)
	if len(out.Peers) != 1 || out.Peers[0].ID != in.Peers[0].ID || !out.Peers[0].Addrs[0].Equal(in.Peers[0].Addrs[0]) {
		t.Errorf("got %v, want %v", out.Peers, in.Peers)
	}
}

func TestReaderReadsStreamOfMessages(t *testing.T) {
	var stream bytes.Buffer
	w := NewWriter(&stream)
	msgs := sampleMessages(t)
	for _, m := range msgs {
		if err := w.WriteMessage(m); err != nil {
			t.Fatalf("write %v: %v", m.Type(), err)
		}
	}
	r := NewReader(&stream, 0)
	for _, want := range msgs {
		got, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("read %v: %v", want.Type(), err)
		}
		equalMessages(t, got, want)
	}
	if _, err := r.ReadMessage(); err != io.EOF {
		t.Errorf("after the last message: err = %v, want io.EOF", err)
	}
}

func TestReaderReusesBuffer(t *testing.T) {
	data := bytes.Repeat([]byte{1}, 64<<10)
	frame, err := AppendMessage(nil, &Block{Ref: LeafRef(1), Data: data})
	if err != nil {
		t.Fatal(err)
	}
	src := bytes.NewReader(nil)
	r := NewReader(src, 0)
	src.Reset(frame)
	if _, err := r.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(50, func() {
		src.Reset(frame)
		if _, err := r.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	})
	// One allocation: the *Block itself. The 64 KiB body buffer is reused.
	if allocs > 1 {
		t.Errorf("ReadMessage of a 64 KiB block allocates %v times per call, want at most 1", allocs)
	}
}

func TestReaderRejectsLongFrameBeforeAllocating(t *testing.T) {
	frame := binary.AppendUvarint(nil, 1<<40)
	r := NewReader(bytes.NewReader(frame), 0)
	_, err := r.ReadMessage()
	if !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("err = %v, want ErrMessageTooLarge", err)
	}
	if cap(r.buf) != 0 {
		t.Errorf("reader grew its buffer to %d bytes for a rejected frame", cap(r.buf))
	}
	small := NewReader(bytes.NewReader(binary.AppendUvarint(nil, 101)), 100)
	if _, err := small.ReadMessage(); !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("reader with max 100, frame of 101: err = %v, want ErrMessageTooLarge", err)
	}
}

func TestReaderTruncatedStream(t *testing.T) {
	frame, _ := AppendMessage(nil, &Block{Ref: LeafRef(1), Data: []byte("hello")})
	for cut := 1; cut < len(frame); cut++ {
		_, err := NewReader(bytes.NewReader(frame[:cut]), 0).ReadMessage()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("frame cut at %d of %d: err = %v, want io.ErrUnexpectedEOF", cut, len(frame), err)
		}
	}
	overflow := bytes.Repeat([]byte{0xff}, 11)
	if _, err := NewReader(bytes.NewReader(overflow), 0).ReadMessage(); !errors.Is(err, ErrBadVarint) {
		t.Errorf("overlong length varint: err = %v, want ErrBadVarint", err)
	}
	// A stream that fails inside a length (a reset) is the stream's
	// error, not the peer's malformed varint.
	reset := errors.New("stream reset")
	for _, prefix := range [][]byte{nil, {0x80}} {
		r := io.MultiReader(bytes.NewReader(prefix), iotest.ErrReader(reset))
		_, err := NewReader(r, 0).ReadMessage()
		if !errors.Is(err, reset) || errors.Is(err, ErrBadVarint) {
			t.Errorf("reset after %d bytes of a length: err = %v, want the reset", len(prefix), err)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	root := testCID(t, "root")
	body := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	uv := func(v uint64) []byte { return binary.AppendUvarint(nil, v) }
	lp := func(p []byte) []byte { return append(uv(uint64(len(p))), p...) }
	b := func(v ...byte) []byte { return v }
	tests := []struct {
		name string
		body []byte
		code ErrorCode
	}{
		{"empty", nil, ErrEmptyMessage},
		{"unknown type", b(0), ErrUnknownType},
		{"unknown type 200", b(200), ErrUnknownType},
		{"choke with payload", b(byte(MsgChoke), 1), ErrTrailingData},
		{"have without index", b(byte(MsgHave)), ErrTruncated},
		{"have index too large", body(b(byte(MsgHave)), uv(MaxLeaves)), ErrIndexRange},
		{"have overflowing varint", body(b(byte(MsgHave)), bytes.Repeat([]byte{0xff}, 10), b(0x7f)), ErrBadVarint},
		{"handshake bad cid", body(b(byte(MsgHandshake)), uv(1), lp([]byte("not a cid")), uv(1)), ErrBadCID},
		{"handshake cid too long", body(b(byte(MsgHandshake)), uv(1), uv(10000)), ErrFieldTooLarge},
		{"handshake cid cut", body(b(byte(MsgHandshake)), uv(1), uv(36), []byte{1, 2}), ErrTruncated},
		{"handshake too many leaves", body(b(byte(MsgHandshake)), uv(1), lp(root.Bytes()), uv(MaxLeaves+1)), ErrIndexRange},
		{"handshake empty name", body(b(byte(MsgHandshake)), uv(1), lp(root.Bytes()), uv(1), b(0)), ErrBadName},
		{"handshake name dotdot", body(b(byte(MsgHandshake)), uv(1), lp(root.Bytes()), uv(1), lp([]byte(".."))), ErrBadName},
		{"handshake name slash", body(b(byte(MsgHandshake)), uv(1), lp(root.Bytes()), uv(1), lp([]byte("a/b"))), ErrBadName},
		{"handshake name backslash", body(b(byte(MsgHandshake)), uv(1), lp(root.Bytes()), uv(1), lp([]byte("a\\b"))), ErrBadName},
		{"handshake name NUL", body(b(byte(MsgHandshake)), uv(1), lp(root.Bytes()), uv(1), lp([]byte("a\x00b"))), ErrBadName},
		{"handshake name too long", body(b(byte(MsgHandshake)), uv(1), lp(root.Bytes()), uv(1), uv(MaxNameLen+1)), ErrFieldTooLarge},
		{"handshake trailing", body(b(byte(MsgHandshake)), uv(1), lp(root.Bytes()), uv(1), lp([]byte("n")), uv(0), uv(0), b(1), b(0)), ErrTrailingData},
		{"handshake price without payee", body(b(byte(MsgHandshake)), uv(1), lp(root.Bytes()), uv(1), uv(0), uv(5), uv(0), b(0)), ErrBadTerms},
		{"handshake payee without price", body(b(byte(MsgHandshake)), uv(1), lp(root.Bytes()), uv(1), uv(0), uv(0), lp([]byte("x")), b(1)), ErrBadTerms},
		{"handshake payee too long", body(b(byte(MsgHandshake)), uv(1), lp(root.Bytes()), uv(1), uv(0), uv(5), uv(MaxPayToLen+1)), ErrFieldTooLarge},
		{"handshake pays flag 2", body(b(byte(MsgHandshake)), uv(1), lp(root.Bytes()), uv(1), uv(0), uv(0), uv(0), b(2)), ErrBadTerms},
		{"handshake terms cut", body(b(byte(MsgHandshake)), uv(1), lp(root.Bytes()), uv(1), uv(0), uv(5)), ErrTruncated},
		{"payment empty", body(b(byte(MsgPayment)), uv(0)), ErrTruncated},
		{"payment too long", body(b(byte(MsgPayment)), uv(MaxVoucherLen+1)), ErrFieldTooLarge},
		{"bitfield too many leaves", body(b(byte(MsgBitfield)), uv(MaxLeaves+1)), ErrIndexRange},
		{"bitfield short", body(b(byte(MsgBitfield)), uv(20), b(0xff)), ErrTruncated},
		{"bitfield spare bits", body(b(byte(MsgBitfield)), uv(4), b(0x0f)), ErrBadBitfield},
		{"request bad ref kind", b(byte(MsgRequest), 9), ErrBadRef},
		{"request missing ref", b(byte(MsgRequest)), ErrTruncated},
		{"cancel leaf too large", body(b(byte(MsgCancel), refLeaf), uv(1<<40)), ErrIndexRange},
		{"block node bad cid", body(b(byte(MsgBlock), refNode), lp([]byte{1, 2, 3})), ErrBadCID},
		{"block too large", body(b(byte(MsgBlock), refLeaf, 0), make([]byte, MaxBlockSize+1)), ErrMessageTooLarge},
		{"body too large", make([]byte, MaxMessageSize+1), ErrMessageTooLarge},
		{"reject unknown reason", b(byte(MsgReject), refLeaf, 1, 99), ErrBadReason},
		{"reject no reason", b(byte(MsgReject), refLeaf, 1), ErrTruncated},
		{"peers too many", body(b(byte(MsgPeers)), uv(MaxPeersPerMessage+1)), ErrTooMany},
		{"peers bad id", body(b(byte(MsgPeers)), uv(1), lp([]byte("xx")), uv(0)), ErrBadPeerID},
		{"peers too many addrs", body(b(byte(MsgPeers)), uv(1), lp([]byte(testPeerID(t, "a"))), uv(MaxAddrsPerPeer+1)), ErrTooMany},
		{"peers bad addr", body(b(byte(MsgPeers)), uv(1), lp([]byte(testPeerID(t, "a"))), uv(1), lp([]byte{0xff, 0xff})), ErrBadAddr},
		{"peers empty addr", body(b(byte(MsgPeers)), uv(1), lp([]byte(testPeerID(t, "a"))), uv(1), uv(0)), ErrBadAddr},
		{"peers missing peer", body(b(byte(MsgPeers)), uv(2), lp([]byte(testPeerID(t, "a"))), uv(0)), ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeMessage(tt.body)
			if !errors.Is(err, tt.code) {
				t.Fatalf("err = %v, want %v", err, tt.code)
			}
			if m != nil {
				t.Errorf("returned a message %+v along with the error", m)
			}
			var we *WireError
			if !errors.As(err, &we) || we.Op == "" {
				t.Errorf("error %v is not a *WireError with an operation", err)
			}
		})
	}
}

func TestEncodeRejectsInvalid(t *testing.T) {
	tests := []struct {
		name string
		m    Message
		code ErrorCode
	}{
		{"handshake undefined root", &Handshake{Version: 1}, ErrBadCID},
		{"handshake negative leaves", &Handshake{Root: testCID(t, "r"), Leaves: -1}, ErrIndexRange},
		{"handshake bad name", &Handshake{Root: testCID(t, "r"), Name: "../etc"}, ErrBadName},
		{"bitfield nil", &BitfieldMsg{}, ErrBadBitfield},
		{"have negative", &Have{Index: -1}, ErrIndexRange},
		{"request too large index", &Request{Ref: LeafRef(MaxLeaves)}, ErrIndexRange},
		{"block too large", &Block{Data: make([]byte, MaxBlockSize+1)}, ErrMessageTooLarge},
		{"reject zero reason", &Reject{Ref: LeafRef(1)}, ErrBadReason},
		{"peers bad id", &Peers{Peers: []peer.AddrInfo{{ID: "nope"}}}, ErrBadPeerID},
		{"peers too many", &Peers{Peers: make([]peer.AddrInfo, MaxPeersPerMessage+1)}, ErrTooMany},
		{"handshake price without payee", &Handshake{Root: testCID(t, "r"), Price: 3}, ErrBadTerms},
		{"handshake payee without price", &Handshake{Root: testCID(t, "r"), PayTo: []byte{1}}, ErrBadTerms},
		{"payment empty", &Payment{}, ErrFieldTooLarge},
	}
	for _, tt := range tests {
		dst := []byte("keep")
		out, err := AppendMessage(dst, tt.m)
		if !errors.Is(err, tt.code) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.code)
		}
		if string(out) != "keep" {
			t.Errorf("%s: dst changed to %q on error", tt.name, out)
		}
		if err := NewWriter(io.Discard).WriteMessage(tt.m); !errors.Is(err, tt.code) {
			t.Errorf("%s: Writer err = %v, want %v", tt.name, err, tt.code)
		}
	}
}

func TestErrorCodesHaveNames(t *testing.T) {
	for c := ErrMessageTooLarge; c <= ErrBadTerms; c++ {
		if _, ok := errorCodeNames[c]; !ok {
			t.Errorf("error code %d has no name", int(c))
		}
	}
	if len(errorCodeNames) != int(ErrBadTerms) {
		t.Errorf("%d names for %d codes", len(errorCodeNames), int(ErrBadTerms))
	}
	for ty := MsgHandshake; ty <= MsgPayment; ty++ {
		if _, ok := msgTypeNames[ty]; !ok || newMessage(ty) == nil || newMessage(ty).Type() != ty {
			t.Errorf("message type %d lacks a name or a constructor", ty)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, m := range sampleMessages(f) {
		frame, err := AppendMessage(nil, m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frame)
	}
	f.Add([]byte{})
	f.Add([]byte{0x05, byte(MsgHave), 0xff, 0xff, 0xff, 0x7f})
	f.Add(binary.AppendUvarint(nil, 1<<40))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), 0)
		for {
			m, err := r.ReadMessage()
			if err != nil {
				return
			}
			// Whatever decodes must encode back to the same body.
			frame, err := AppendMessage(nil, m)
			if err != nil {
				t.Fatalf("decoded %v does not encode: %v", m.Type(), err)
			}
			n, k := binary.Uvarint(frame)
			back, err := DecodeMessage(frame[k : k+int(n)])
			if err != nil {
				t.Fatalf("re-decode %v: %v", m.Type(), err)
			}
			frame2, _ := AppendMessage(nil, back)
			if !bytes.Equal(frame, frame2) {
				t.Fatalf("%v: encoding not stable", m.Type())
			}
		}
	})
}

func BenchmarkEncodeBlock(b *testing.B) {
	for _, size := range []int{16 << 10, 256 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			m := &Block{Ref: LeafRef(12345), Data: make([]byte, size)}
			buf := make([]byte, 0, size+64)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				// AppendMessage copies the data; Writer.WriteMessage would
				// hand it to the stream without a copy.
				if buf, err = AppendMessage(buf[:0], m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeBlock(b *testing.B) {
	for _, size := range []int{16 << 10, 256 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			frame, err := AppendMessage(nil, &Block{Ref: LeafRef(12345), Data: make([]byte, size)})
			if err != nil {
				b.Fatal(err)
			}
			src := bytes.NewReader(frame)
			r := NewReader(src, 0)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(frame)
				if _, err := r.ReadMessage(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeBitfield(b *testing.B) {
	for _, n := range []int{1 << 10, 1 << 16, 1 << 20} {
		b.Run(fmt.Sprintf("%dleaves", n), func(b *testing.B) {
			frame, err := AppendMessage(nil, &BitfieldMsg{Have: NewFullBitfield(n)})
			if err != nil {
				b.Fatal(err)
			}
			_, k := binary.Uvarint(frame)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeMessage(frame[k:]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncodeSmall(b *testing.B) {
	m := &Request{Ref: LeafRef(4242)}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendMessage(buf[:0], m); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}
