package swarm

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/myco-p2p/myco/chunker"
)

// Received leaves are verified and written by a store goroutine per peer,
// not by the goroutine that reads the peer's stream: hashing a leaf and
// writing it to the destination file (which on a cold disk costs more than
// receiving it) then overlap with reading the next one. The reader copies
// each leaf out of its reusable buffer into one of storeSlots buffers
// shared by the whole service and queues it, at most storeDepth per peer;
// when every buffer is taken, readers wait, and the flow control of their
// streams slows the senders. So the memory for leaves between network and
// disk is bounded by storeSlots leaves however many peers send at once.
//
// Served leaves are read the same way, into one of serveSlots buffers
// shared by every peer's writer (Store.GetInto), taken after the upload
// limiter let the leaf through and given back once it is written to the
// stream: a seeder with many peers holds serveSlots leaves, not one
// freshly allocated leaf per peer and per request. Two cores keep two
// reads and writes busy; a writer that finds them all taken waits.
const (
	storeSlots = 4
	storeDepth = 2
	serveSlots = 2
)

// frameSlots is how many blocks the session readers of the whole service
// may be reading at once (FramePool). Readers take a buffer only while a
// block arrives and give it back once it is copied out for the store, so
// a leecher that many peers send to holds at most frameSlots, not one per
// peer it ever received from; its other peers' blocks wait in their
// streams' receive windows.
const frameSlots = 2

// leafBufs hands out at most storeSlots buffers at a time. Freed buffers
// are reused last-in first-out, so a single download keeps reusing the
// same few and the rest are never allocated.
type leafBufs struct {
	tokens chan struct{}
	mu     sync.Mutex
	free   [][]byte
}

func newLeafBufs(n int) *leafBufs {
	return &leafBufs{tokens: make(chan struct{}, n)}
}

// get returns a buffer of n bytes, waiting while all are taken.
func (p *leafBufs) get(ctx context.Context, n int) ([]byte, error) {
	select {
	case p.tokens <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	var b []byte
	if k := len(p.free); k > 0 {
		b = p.free[k-1]
		p.free = p.free[:k-1]
	}
	p.mu.Unlock()
	if cap(b) < n {
		b = chunker.AlignedBuffer(n) // so the store can write it with direct I/O
	}
	return b[:n], nil
}

// put returns a buffer from get.
func (p *leafBufs) put(b []byte) {
	p.mu.Lock()
	p.free = append(p.free, b[:0])
	p.mu.Unlock()
	<-p.tokens
}

// stages times the receiving pipeline of one peer, to find what it waits
// for; the peer's stream logs it (Debug) when it ends. The reader's
// fields are written by the reader goroutine, the store's by the store
// goroutine, and read once both are done.
type stages struct {
	leaves int
	// net: the reader waiting for and decoding leaf frames (the sender,
	// decryption, flow control); queue: the reader waiting for a free
	// buffer or a place in the store queue (the store is behind).
	net, queue time.Duration
	// store: verifying and writing leaves; storeIdle: the store waiting
	// for the next leaf.
	store, storeIdle time.Duration
	// The writer's, serving: served leaves; read: reading them from the
	// store; write: handing them to the stream (encryption, flow
	// control); idle: nothing to send (no request queued).
	served            int
	read, write, idle time.Duration
}

func (st *stages) log(log *slog.Logger, id peer.ID) {
	if st.leaves > 0 {
		log.Debug("peer stages, receiving", "peer", id, "leaves", st.leaves, "net", st.net, "queue", st.queue,
			"store", st.store, "store_idle", st.storeIdle)
	}
	if st.served > 0 {
		log.Debug("peer stages, serving", "peer", id, "leaves", st.served, "read", st.read, "write", st.write, "idle", st.idle)
	}
}

// storeJob is one received leaf waiting to be verified and written.
type storeJob struct {
	index int
	data  []byte
}
