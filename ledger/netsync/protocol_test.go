package netsync

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/myco-p2p/myco/ledger"
)

func TestMessageRoundTrip(t *testing.T) {
	blocks := fixture(t)[:3]
	var hdrs []ledger.Header
	var raw [][]byte
	for _, b := range blocks {
		hdrs = append(hdrs, b.Header)
		raw = append(raw, b.Encode())
	}
	raw = append(raw, nil) // a block the peer lacks
	for _, m := range []*message{
		{Type: msgGetHeaders, Hashes: []ledger.Hash{blocks[2].Hash(), blocks[0].Hash()}},
		{Type: msgHeaders, Headers: hdrs},
		{Type: msgHeaders},
		{Type: msgGetBlocks, Hashes: []ledger.Hash{blocks[1].Hash()}},
		{Type: msgBlocks, Blocks: raw},
	} {
		var buf bytes.Buffer
		if err := writeFrame(&buf, m); err != nil {
			t.Fatal(err)
		}
		got, err := readFrame(&buf, maxMessageSize(1<<20))
		if err != nil {
			t.Fatalf("%s: %v", m.Type, err)
		}
		if !bytes.Equal(got.encode(), m.encode()) {
			t.Errorf("%s: round trip changed the message", m.Type)
		}
	}
}

func TestMessageLimits(t *testing.T) {
	big := &message{Type: msgGetBlocks, Hashes: make([]ledger.Hash, MaxBlocksPerRequest+1)}
	tooManyHeaders := []byte{byte(msgHeaders), 0xff, 0xff}
	for _, tc := range []struct {
		name string
		b    []byte
		max  int
	}{
		{"empty", nil, 100},
		{"unknown type", []byte{99, 0, 0}, 100},
		{"too many hashes", big.encode(), maxMessageSize(1 << 20)},
		{"header count beyond the bytes", tooManyHeaders, 100},
		{"over the size limit", make([]byte, 101), 100},
		{"block length beyond the bytes", []byte{byte(msgBlocks), 0, 1, 0, 0, 1, 0}, 100},
		{"trailing bytes", []byte{byte(msgGetHeaders), 0, 0, 1}, 100},
	} {
		if _, err := decodeMessage(tc.b, tc.max); !errors.Is(err, errMalformed) {
			t.Errorf("%s: err = %v, want errMalformed", tc.name, err)
		}
	}
	// A frame length over the limit is refused before anything is read.
	frame := []byte{0xff, 0xff, 0xff, 0xff}
	if _, err := readFrame(bytes.NewReader(frame), 1<<20); !errors.Is(err, errMalformed) {
		t.Errorf("oversized frame: err = %v", err)
	}
}

func FuzzDecodeMessage(f *testing.F) {
	blocks := fixture(f)[:2]
	f.Add((&message{Type: msgGetHeaders, Hashes: []ledger.Hash{blocks[0].Hash()}}).encode())
	f.Add((&message{Type: msgHeaders, Headers: []ledger.Header{blocks[0].Header, blocks[1].Header}}).encode())
	f.Add((&message{Type: msgGetBlocks, Hashes: []ledger.Hash{blocks[1].Hash()}}).encode())
	f.Add((&message{Type: msgBlocks, Blocks: [][]byte{blocks[0].Encode(), nil}}).encode())
	f.Add([]byte{byte(msgBlocks), 0, 2, 0, 0, 0, 1, 7})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMessage(b, 1<<16)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same bytes: the encoding is canonical.
		if !bytes.Equal(m.encode(), b) {
			t.Fatalf("re-encoding %x gave %x", b, m.encode())
		}
	})
}

// The request logic answers without streams: headers after a locator and
// blocks by hash, with empty entries for unknown blocks.
func TestHandleRequest(t *testing.T) {
	blocks := fixture(t)
	clock := newClock(afterFixture(t, 30))
	c := newTestChain(t, clock, blocks[:30])
	defer c.Close()
	s, err := New(nopHost(t), c, Config{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	resp, err := s.handleRequest(ctx, peer.ID("x"), &message{Type: msgGetHeaders, Hashes: []ledger.Hash{blocks[19].Hash()}})
	if err != nil || len(resp.Headers) != 10 || resp.Headers[0] != blocks[20].Header {
		t.Fatalf("headers after block 20: %d headers, err %v", len(resp.Headers), err)
	}
	resp, err = s.handleRequest(ctx, peer.ID("x"), &message{Type: msgGetHeaders, Hashes: c.Locator()})
	if err != nil || len(resp.Headers) != 0 {
		t.Fatalf("headers after our own tip: %d, err %v", len(resp.Headers), err)
	}
	resp, err = s.handleRequest(ctx, peer.ID("x"), &message{Type: msgGetBlocks, Hashes: []ledger.Hash{blocks[4].Hash(), blocks[40].Hash()}})
	if err != nil || len(resp.Blocks) != 2 || !bytes.Equal(resp.Blocks[0], blocks[4].Encode()) || resp.Blocks[1] != nil {
		t.Fatalf("blocks: %v", err)
	}
	if _, err := s.handleRequest(ctx, peer.ID("x"), &message{Type: msgHeaders}); !errors.Is(err, errMalformed) {
		t.Fatalf("a response as a request: err = %v", err)
	}
}

func TestOrphanPoolBounds(t *testing.T) {
	blocks := fixture(t)
	t0 := time.Unix(1000, 0)
	o := newOrphanPool(3, time.Minute)
	for i := 1; i <= 4; i++ {
		b := blocks[i]
		o.add(&heldBlock{blk: b, hash: b.Hash(), at: t0.Add(time.Duration(i) * time.Second)})
	}
	if o.len() != 3 || o.has(blocks[1].Hash()) {
		t.Fatalf("count bound: %d orphans, oldest kept: %v", o.len(), o.has(blocks[1].Hash()))
	}
	kids := o.takeChildren(blocks[2].Hash()) // block 3's parent is block 2
	if len(kids) != 1 || kids[0].hash != blocks[3].Hash() || o.has(blocks[3].Hash()) {
		t.Fatalf("children of block 2: %d", len(kids))
	}
	o.expire(t0.Add(time.Minute + 3*time.Second))
	if o.len() != 1 || !o.has(blocks[4].Hash()) {
		t.Fatalf("age bound: %d orphans left", o.len())
	}
}

func TestFuturePool(t *testing.T) {
	blocks := fixture(t)
	now := time.UnixMilli(blocks[0].Header.Time)
	f := newFuturePool(2, 10*time.Second)
	for _, i := range []int{5, 3, 8} {
		f.add(&heldBlock{blk: blocks[i], hash: blocks[i].Hash()}, now)
	}
	if len(f.blocks) != 2 || f.blocks[blocks[8].Hash()] != nil {
		t.Fatalf("the block furthest ahead should go first: %d kept", len(f.blocks))
	}
	if f.add(&heldBlock{blk: blocks[100], hash: blocks[100].Hash()}, now) {
		t.Fatal("a block beyond the horizon was kept")
	}
	due := f.due(blocks[4].Header.Time)
	if len(due) != 1 || due[0].hash != blocks[3].Hash() {
		t.Fatalf("due: %d", len(due))
	}
}

func TestScheduler(t *testing.T) {
	s := newScheduler(5, 2)
	a, _ := s.take()
	b, _ := s.take()
	if a != 0 || b != 1 {
		t.Fatalf("took %d, %d", a, b)
	}
	s.retry(0) // a failed batch is handed out again before later ones
	if c, _ := s.take(); c != 0 {
		t.Fatalf("after retry took %d", c)
	}
	s.fetched(0)
	s.fetched(1)
	s.advance(2)
	if c, _ := s.take(); c != 2 {
		t.Fatalf("after advance took %d", c)
	}
	s.stop()
	if _, ok := s.take(); ok {
		t.Fatal("take after stop")
	}
}

func TestBlocklistExpires(t *testing.T) {
	clock := newClock(time.Unix(1000, 0))
	b := NewBlocklist(clock.Now, time.Minute)
	p := peer.ID("peer")
	b.Add(p)
	if !b.Contains(p) || b.InterceptPeerDial(p) || b.InterceptSecured(0, p, nil) {
		t.Fatal("a banned peer is let through")
	}
	clock.Set(time.Unix(1000, 0).Add(time.Minute))
	if b.Contains(p) || !b.InterceptPeerDial(p) || b.Len() != 0 {
		t.Fatal("the ban did not expire")
	}
}
