package swarm

import (
	"bytes"
	"context"
	"encoding/binary"
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

// TestFramePoolNeverWaits: readers sharing a pool of one buffer read
// blocks into it one at a time; while it is lent, a second reader reads
// its block anyway, into a buffer of its own (it used to wait for the
// pool, so a peer that held the buffer stalled every other reader); small
// messages never take from the pool; a released buffer is reused.
func TestFramePoolNeverWaits(t *testing.T) {
	big := bytes.Repeat([]byte{0xab}, 1<<20)
	other := bytes.Repeat([]byte{0xcd}, 1<<20)
	pool := NewFramePool(1)

	r1 := NewReader(frames(t, &Have{Index: 3}, &Block{Ref: LeafRef(1), Data: big}), 0)
	r1.UseFramePool(pool)
	r2 := NewReader(frames(t, &Have{Index: 4}, &Block{Ref: LeafRef(2), Data: other}), 0)
	r2.UseFramePool(pool)

	if m, err := r1.ReadMessage(); err != nil || m.(*Have).Index != 3 {
		t.Fatalf("r1 small message: %v %v", m, err)
	}
	if pool.lent != 0 {
		t.Fatal("a small message took a buffer from the pool")
	}
	m, err := r1.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	b1 := m.(*Block)
	if b1.Ref.Index != 1 || !bytes.Equal(b1.Data, big) || pool.lent != 1 {
		t.Fatalf("r1 read a wrong block, or not into the pool's buffer (%d lent)", pool.lent)
	}

	// The only buffer is lent to r1: r2 reads its block all the same.
	if m, err := r2.ReadMessage(); err != nil || m.(*Have).Index != 4 {
		t.Fatalf("r2 small message: %v %v", m, err)
	}
	m, err = r2.ReadMessage()
	if err != nil {
		t.Fatalf("r2 with the pool's only buffer lent to r1: %v", err)
	}
	b2 := m.(*Block)
	if b2.Ref.Index != 2 || !bytes.Equal(b2.Data, other) || !bytes.Equal(b1.Data, big) {
		t.Fatal("r2's block is wrong or overwrote r1's")
	}
	if pool.lent != 1 || r2.lent != nil {
		t.Fatalf("r2 took from an empty pool: %d lent", pool.lent)
	}

	// Released, the buffer goes to the next block.
	r1.Release()
	r1.Release() // a second release does nothing
	r3 := NewReader(frames(t, &Block{Ref: LeafRef(5), Data: other}), 0)
	r3.UseFramePool(pool)
	m, err = r3.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if b3 := m.(*Block); !bytes.Equal(b3.Data, other) || &b3.Data[0] != &b1.Data[0] {
		t.Fatal("the released buffer was not reused")
	}
	// The end of the stream gives the buffer back too.
	if _, err := r3.ReadMessage(); err == nil {
		t.Fatal("read past the end")
	}
	if pool.lent != 0 || len(pool.free) != 1 {
		t.Fatalf("%d buffers lent and %d free after the streams ended, want 0 and 1", pool.lent, len(pool.free))
	}
}

// stall yields its bytes, then fails with errStall instead of blocking
// (the peer went silent, and the stream was reset).
type stall struct{ b []byte }

var errStall = errors.New("stalled")

func (s *stall) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, errStall
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}

// TestGrowingFrameHoldsWhatArrived: with the pool's buffers all lent, a
// block's body goes into a buffer that grows with the bytes that arrive,
// so a peer that announces a whole block and sends a little holds about
// four times that at most (or growStart); the frame's length is seen
// first (OnLargeFrame), before any buffer is taken, and an error there is
// the read's; the arrival of the body is told every bodyChunk bytes.
func TestGrowingFrameHoldsWhatArrived(t *testing.T) {
	pool := NewFramePool(0)
	const frame = 1 + 2 + 1<<20 // type, leaf ref, 1 MiB
	for _, sent := range []int{0, 1000, growStart, growStart + 1, 3 * growStart, frame - 1} {
		stream := binary.AppendUvarint(nil, frame)
		stream = append(stream, make([]byte, sent)...)
		var seen, progress int
		r := NewReader(&stall{b: stream}, 0)
		r.UseFramePool(pool)
		r.OnLargeFrame(func(n int) error { seen = n; return nil }, func() { progress++ })
		_, err := r.ReadMessage()
		if !errors.Is(err, errStall) {
			t.Fatalf("%d of %d bytes sent: got %v", sent, frame, err)
		}
		if seen != frame {
			t.Fatalf("OnLargeFrame saw %d, want %d", seen, frame)
		}
		// Progress is told every bodyChunk bytes (a growing buffer's
		// first part ends on a multiple of it).
		if want := sent / bodyChunk; progress != want {
			t.Fatalf("%d bytes sent: progress told %d times, want %d", sent, progress, want)
		}
		body := make([]byte, sent)
		r = NewReader(&stall{b: body}, 0)
		r.UseFramePool(pool)
		b, err := r.growFrame(frame)
		if !errors.Is(err, errStall) || len(b) != sent {
			t.Fatalf("growFrame after %d bytes: %d bytes, %v", sent, len(b), err)
		}
		// A frame is at most 1 KiB more than 1 MiB, four growStarts.
		if limit := max(4*sent, growStart) + MaxMessageSize - 1<<20; cap(b) > limit {
			t.Fatalf("%d bytes sent hold a buffer of %d, more than %d", sent, cap(b), limit)
		}
	}

	// A whole block read into a growing buffer is the block.
	data := bytes.Repeat([]byte{7}, 1<<20)
	r := NewReader(frames(t, &Block{Ref: LeafRef(9), Data: data}), 0)
	r.UseFramePool(pool)
	m, err := r.ReadMessage()
	if err != nil || !bytes.Equal(m.(*Block).Data, data) {
		t.Fatalf("growing read of a whole block: %v", err)
	}

	// The hook's error ends the read before the body.
	r = NewReader(frames(t, &Block{Ref: LeafRef(9), Data: data}), 0)
	r.UseFramePool(pool)
	r.OnLargeFrame(func(int) error { return context.Canceled }, nil)
	if _, err := r.ReadMessage(); !errors.Is(err, context.Canceled) {
		t.Fatalf("the hook's error: got %v", err)
	}
}

// TestLeafBufsNeverWait: get hands out buffers beyond the bound at once;
// waitRoom waits while the bound is in use and returns once a buffer is
// back; at most the bound's count of free buffers is kept.
func TestLeafBufsNeverWait(t *testing.T) {
	p := newLeafBufs(2)
	a, b, c := p.get(100), p.get(100), p.get(100)
	if len(a) != 100 || len(b) != 100 || len(c) != 100 {
		t.Fatal("wrong sizes")
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.waitRoom(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("waitRoom with 3 of 2 in use: %v", err)
	}
	room := make(chan error, 1)
	go func() { room <- p.waitRoom(context.Background()) }()
	p.put(a)
	select {
	case err := <-room:
		t.Fatalf("room with 2 of 2 in use: %v", err)
	default:
	}
	p.put(b)
	if err := <-room; err != nil {
		t.Fatal(err)
	}
	p.put(c)
	if p.used != 0 || len(p.free) != 2 {
		t.Fatalf("%d in use, %d kept; want 0 and 2", p.used, len(p.free))
	}
	if err := p.waitRoom(done); err != nil {
		t.Fatalf("waitRoom with none in use: %v", err)
	}
}
