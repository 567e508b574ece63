package swarm

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// rogue is a peer on the test's mocknet that speaks the swarm protocol by
// hand, to hold on to what an honest peer lets go of (issue 19).
type rogue struct {
	t  *testing.T
	id peer.ID
	st network.Stream
	br *bufio.Reader
	w  *Writer
}

// rogue opens a session stream to a node for root and exchanges
// handshakes.
func (n *testNet) rogue(to *testNode, root cid.Cid) *rogue {
	t := n.t
	t.Helper()
	h := n.host()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if err := h.Connect(ctx, to.info()); err != nil {
		t.Fatal(err)
	}
	st, err := h.NewStream(ctx, to.h.ID(), protocol.ID(ProtocolID))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Reset() })
	r := &rogue{t: t, id: h.ID(), st: st, br: bufio.NewReader(st), w: NewWriter(st)}
	r.send(&Handshake{Version: ProtocolVersion, Root: root})
	if m := r.next(); m == nil || m.Type() != MsgHandshake {
		t.Fatalf("rogue: %v instead of the handshake", m)
	}
	return r
}

func (r *rogue) send(m Message) {
	r.t.Helper()
	if err := r.w.WriteMessage(m); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rogue) write(b []byte) {
	r.t.Helper()
	if _, err := r.st.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// next reads the next message; of a frame larger than smallFrame (a block
// on its way) it reads only the length and returns nil.
func (r *rogue) next() Message {
	r.t.Helper()
	n, err := binary.ReadUvarint(r.br)
	if err != nil {
		r.t.Fatalf("rogue: %v", err)
	}
	if n > smallFrame {
		return nil
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r.br, body); err != nil {
		r.t.Fatalf("rogue: %v", err)
	}
	m, err := DecodeMessage(body)
	if err != nil {
		r.t.Fatalf("rogue: %v", err)
	}
	return m
}

// stallInBlock sends the length of a block of leaf 0 with 1 MiB of data and a
// little of its body, then nothing more. It returns once the node reads the
// body (so it took a buffer for it): mocknet hands a stream's writes over one
// at a time, so once the third write is handed over, the second, part of the
// body, has been read.
func (r *rogue) stallInBlock() {
	r.t.Helper()
	frame := binary.AppendUvarint(nil, 1+2+1<<20)
	frame = append(frame, byte(MsgBlock), refLeaf, 0)
	r.write(append(frame, make([]byte, 300)...))
	r.write(make([]byte, 64<<10))
	r.write(make([]byte, 300))
}

// TestSilentSenderHoldsNoOneElse: peers that send a block's length and then
// go silent hold a buffer each, not the node's downloads: with more of them
// than the node keeps leaves for the store (storeSlots) or frame buffers, a
// download from an honest seeder completes; and at the tick after
// StreamTimeout they are dropped and reported (Config.OnOverBudget).
func TestSilentSenderHoldsNoOneElse(t *testing.T) {
	n := newTestNet(t, true)
	reported := make(chan peer.ID, 8)
	leech := n.node("leech", Config{OnOverBudget: func(p peer.ID) { reported <- p }})
	seed := n.node("seed", Config{})
	// The rogues join a root the leecher serves: its frame pool is the
	// whole node's.
	kept := n.share(leech, randomBytes(t, 100<<10), 32<<10)
	var rogues []*rogue
	for range max(storeSlots, frameSlots) + 1 {
		r := n.rogue(leech, kept)
		r.stallInBlock()
		rogues = append(rogues, r)
	}
	data := randomBytes(t, 4<<20+777)
	root := n.share(seed, data, 256<<10) // every leaf a large frame
	dl, dest := leech.fetch(t, root)
	waitDone(t, dl)
	checkFile(t, dest, data)

	n.tick(leech.svc.cfg.StreamTimeout + time.Second)
	want := map[peer.ID]bool{}
	for _, r := range rogues {
		want[r.id] = true
	}
	for range rogues {
		select {
		case p := <-reported:
			if !want[p] {
				t.Fatalf("reported %s, not a rogue (or twice)", p)
			}
			delete(want, p)
		case <-time.After(hangGuard):
			t.Fatalf("stalled peers not reported: %v", want)
		}
	}
	for _, r := range rogues {
		if _, err := io.Copy(io.Discard, r.st); err == nil {
			t.Fatal("a stalled peer's stream ended cleanly; want it reset")
		}
	}
}

// TestSlowReaderHoldsNoOneElse: peers that ask for leaves and do not read
// them hold the buffer of the leaf being written to them each, not the
// node's uploads: with more of them than serveSlots, an honest leecher
// still gets the whole file from the same seeder.
func TestSlowReaderHoldsNoOneElse(t *testing.T) {
	n := newTestNet(t, false)
	seed := n.node("seed", Config{})
	data := randomBytes(t, 4<<20+777)
	root := n.share(seed, data, 256<<10)
	for range serveSlots + 1 {
		r := n.rogue(seed, root)
		r.send(&Interested{})
		for {
			m := r.next()
			if m == nil {
				t.Fatal("a block before the unchoke")
			}
			if m.Type() == MsgUnchoke {
				break
			}
		}
		for i := range 4 {
			r.send(&Request{Ref: LeafRef(i)})
		}
		// The seeder is writing a leaf to it, which it never reads.
		for r.next() != nil {
		}
	}
	leech := n.node("leech", Config{})
	dl, dest := leech.fetch(t, root)
	waitDone(t, dl)
	checkFile(t, dest, data)
}

// TestSlowSenderKept: a peer inside a block is dropped for sending
// nothing of it for StreamTimeout, not for taking longer than that over
// the whole block: one that goes on sending, however slowly, stays.
func TestSlowSenderKept(t *testing.T) {
	n := newTestNet(t, true)
	reported := make(chan peer.ID, 8)
	node := n.node("node", Config{OnOverBudget: func(p peer.ID) { reported <- p }})
	kept := n.share(node, randomBytes(t, 100<<10), 32<<10)
	r := n.rogue(node, kept)
	r.stallInBlock() // 66136 bytes of the body
	limit := node.svc.cfg.StreamTimeout
	n.tick(limit - 5*time.Second)
	// More of the body: once the last write is handed over, the reader
	// is past the chunk that ends at 3*bodyChunk, so it told progress.
	r.write(make([]byte, bodyChunk))
	r.write(make([]byte, bodyChunk))
	r.write(make([]byte, 300))
	n.tick(limit - 5*time.Second) // 2*limit - 10 s since the block began
	n.tick(time.Second)           // and the tick before is done
	select {
	case p := <-reported:
		t.Fatalf("%s reported while it was sending", p)
	default:
	}
	n.tick(5 * time.Second) // limit + 1 s since the last bytes
	select {
	case p := <-reported:
		if p != r.id {
			t.Fatalf("reported %s, want the rogue", p)
		}
	case <-time.After(hangGuard):
		t.Fatal("the peer stalled after sending; not reported")
	}
}
