package swarm

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// frames returns the bytes of the messages ms as a Writer writes them.
func frames(t *testing.T, ms ...Message) *bytes.Reader {
	t.Helper()
	var b bytes.Buffer
	w := NewWriter(&b)
	for _, m := range ms {
		if err := w.WriteMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	return bytes.NewReader(b.Bytes())
}

// TestFramePoolBoundsBlockBuffers: readers sharing a pool of one buffer
// read blocks into it one at a time; a second reader waits (here: its
// context is done, so it gives up) until the first releases; small
// messages never take from the pool; a released buffer is reused.
func TestFramePoolBoundsBlockBuffers(t *testing.T) {
	big := bytes.Repeat([]byte{0xab}, 1<<20)
	pool := NewFramePool(1)
	ctx := context.Background()
	done, cancel := context.WithCancel(ctx)
	cancel()

	r1 := NewReader(frames(t, &Have{Index: 3}, &Block{Ref: LeafRef(1), Data: big}), 0)
	r1.UseFramePool(ctx, pool)
	r2 := NewReader(frames(t, &Have{Index: 4}, &Block{Ref: LeafRef(2), Data: big}, &Block{Ref: LeafRef(5), Data: big}), 0)
	r2.UseFramePool(done, pool)

	// Small messages are read into the readers' own buffers, even with
	// the pool's buffer taken and r2's context done.
	if m, err := r1.ReadMessage(); err != nil || m.(*Have).Index != 3 {
		t.Fatalf("r1 small message: %v %v", m, err)
	}
	m, err := r1.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	b1 := m.(*Block)
	if b1.Ref.Index != 1 || !bytes.Equal(b1.Data, big) {
		t.Fatal("r1 read a wrong block")
	}
	if m, err := r2.ReadMessage(); err != nil || m.(*Have).Index != 4 {
		t.Fatalf("r2 small message: %v %v", m, err)
	}
	if _, err := r2.ReadMessage(); !errors.Is(err, context.Canceled) {
		t.Fatalf("r2 read a block with the only buffer lent to r1: %v", err)
	}

	// Released, the buffer goes to the next block, r2's.
	r1.Release()
	r1.Release() // a second release does nothing
	r2 = NewReader(frames(t, &Block{Ref: LeafRef(2), Data: big}), 0)
	r2.UseFramePool(ctx, pool)
	m, err = r2.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	b2 := m.(*Block)
	if b2.Ref.Index != 2 || !bytes.Equal(b2.Data, big) {
		t.Fatal("r2 read a wrong block")
	}
	if &b2.Data[0] != &b1.Data[0] {
		t.Fatal("the released buffer was not reused")
	}
	// The end of the stream gives the buffer back too.
	if _, err := r2.ReadMessage(); err == nil {
		t.Fatal("read past the end")
	}
	if len(pool.tokens) != 0 {
		t.Fatalf("%d buffers still lent after the stream ended", len(pool.tokens))
	}
}
