package swarm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// countingLeaves is a LeafBuffers that records what it lends and gets back.
type countingLeaves struct {
	out  int
	back [][]byte
}

func (c *countingLeaves) Get(n int) []byte { c.out++; return make([]byte, n) }
func (c *countingLeaves) Put(b []byte)     { c.out--; c.back = append(c.back, b) }

// TestReaderReadsLeavesIntoLeafBuffers: a large leaf Block is read straight
// into a buffer from LeafBuffers, which the caller may take (TakeLeaf) or
// which goes back at the next read or Release; small messages, small
// leaves and large node blocks do not take one.
func TestReaderReadsLeavesIntoLeafBuffers(t *testing.T) {
	leaf := bytes.Repeat([]byte{0xab}, 1<<20)
	other := bytes.Repeat([]byte{0xcd}, 300<<10)
	node := bytes.Repeat([]byte{0xef}, 200<<10)
	lb := &countingLeaves{}
	r := NewReader(frames(t,
		&Have{Index: 3},
		&Block{Ref: LeafRef(1), Data: leaf},
		&Block{Ref: LeafRef(MaxLeaves - 1), Data: other},
		&Block{Ref: LeafRef(2), Data: []byte("small leaf")},
		&Block{Ref: NodeRef(testCID(t, "n")), Data: node},
	), 0)
	r.UseFramePool(NewFramePool(1))
	r.UseLeafBuffers(lb)

	if m, err := r.ReadMessage(); err != nil || m.(*Have).Index != 3 || lb.out != 0 {
		t.Fatalf("small message: %v %v, %d leaf buffers out", m, err, lb.out)
	}
	m, err := r.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	b := m.(*Block)
	if b.Ref != LeafRef(1) || !bytes.Equal(b.Data, leaf) || lb.out != 1 {
		t.Fatalf("leaf 1: ref %v, %d bytes, %d leaf buffers out", b.Ref, len(b.Data), lb.out)
	}
	taken := r.TakeLeaf()
	if &taken[0] != &b.Data[0] || r.TakeLeaf() != nil {
		t.Fatal("TakeLeaf did not hand over the block's buffer, once")
	}

	// Not taken: it goes back at the next read.
	m, err = r.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if b := m.(*Block); b.Ref.Index != MaxLeaves-1 || !bytes.Equal(b.Data, other) {
		t.Fatalf("the last leaf index: %v, %d bytes", b.Ref, len(b.Data))
	}
	if m, err := r.ReadMessage(); err != nil || string(m.(*Block).Data) != "small leaf" {
		t.Fatalf("small leaf: %v %v", m, err)
	}
	if lb.out != 1 || len(lb.back) != 1 || !bytes.Equal(lb.back[0], other) {
		t.Fatalf("the untaken leaf's buffer was not given back: %d out, %d back", lb.out, len(lb.back))
	}
	if m, err := r.ReadMessage(); err != nil || !bytes.Equal(m.(*Block).Data, node) || lb.out != 1 {
		t.Fatalf("node block: %v, %d leaf buffers out", err, lb.out)
	}
	if _, err := r.ReadMessage(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	if lb.out != 1 { // the taken one
		t.Fatalf("%d leaf buffers out at the end, want the taken one", lb.out)
	}
}

// TestReaderLeafFramesRejected: a large frame that looks like a leaf but
// is not an acceptable one is left to the decoder, which rejects it as it
// would without leaf buffers; a leaf cut short gives its buffer back.
func TestReaderLeafFramesRejected(t *testing.T) {
	frame := func(body []byte) []byte {
		return append(binary.AppendUvarint(nil, uint64(len(body))), body...)
	}
	leafBody := func(index uint64, n int) []byte {
		b := binary.AppendUvarint([]byte{byte(MsgBlock), refLeaf}, index)
		return append(b, make([]byte, n)...)
	}
	cases := []struct {
		name  string
		input []byte
		want  error
	}{
		{"index out of range", frame(leafBody(MaxLeaves, 100<<10)), ErrIndexRange},
		{"data over MaxBlockSize", frame(leafBody(1, MaxBlockSize+1)), ErrMessageTooLarge},
		{"bad ref kind", frame(append([]byte{byte(MsgBlock), 7}, make([]byte, 100<<10)...)), ErrBadRef},
		{"index overflows", frame(append([]byte{byte(MsgBlock), refLeaf}, bytes.Repeat([]byte{0xff}, 100<<10)...)), ErrBadVarint},
		{"cut short", frame(leafBody(1, 100<<10))[:50<<10], io.ErrUnexpectedEOF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lb := &countingLeaves{}
			r := NewReader(bytes.NewReader(c.input), 0)
			r.UseFramePool(NewFramePool(1))
			r.UseLeafBuffers(lb)
			_, err := r.ReadMessage()
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if lb.out != 0 {
				t.Fatalf("%d leaf buffers still out after the error", lb.out)
			}
		})
	}
}
