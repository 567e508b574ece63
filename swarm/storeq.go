package swarm

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/myco-p2p/myco/chunker"
)

// Received leaves are verified and written by storeWorkers goroutines per
// peer, not by the goroutine that reads the peer's stream: hashing a leaf and
// writing it to the destination file (which on a cold disk costs more than
// receiving it) then overlap with reading the next one. The reader reads each
// large leaf straight into a buffer for the store (small ones it copies into
// one) and queues it, at most storeDepth per peer. Before it reads a block's
// body it waits until fewer than storeSlots leaves are with the store (queued
// or being written) across the service, and the flow control of its stream
// slows the sender meanwhile. So the memory for leaves between network and
// disk is about storeSlots leaves with the store (a few more when several
// readers find room at the same moment) and one per stream whose leaf is
// arriving: never waiting for one, so that a peer that stops inside a leaf
// stalls nobody, those are as many as the peers sending at once.
//
// Served leaves are read the same way, into a buffer shared by every
// peer's writer (Store.GetInto, serveSlots of them kept for reuse), taken
// after the upload limiter let the leaf through and given back once it is
// written to the stream: a seeder with many peers reuses a few leaves'
// memory, not one freshly allocated leaf per peer and per request. A
// writer that finds none free takes a fresh one rather than wait: the one
// it would wait for may be held by a peer that does not read (see the
// package doc, Streams).
const (
	storeSlots = 4
	// storeWorkers verify and write one peer's leaves at once: with one,
	// the store was the leecher's busiest stage (84 to 88% of a 1 GiB
	// loopback fetch, testnet/bench.sh), on one core; the gain of two was
	// within that bench's noise.
	storeWorkers = 2
	storeDepth   = 2
	serveSlots   = 2
)

// frameSlots is how many buffers the FramePool of the whole service keeps
// for the session readers' large frames other than leaves (nodes, large
// bitfields; a leaf goes straight into a buffer for the store). Readers
// take one only while such a frame arrives and give it back once it is
// used, so a node reuses frameSlots buffers, not one per peer it ever
// received from; a frame that arrives while all are lent is read into a
// buffer that grows with it and is dropped after.
const frameSlots = 2

// leafBufs hands out the buffers of leaves between the network and the
// disk. It keeps at most n free buffers for reuse, last-in first-out, so a
// single download keeps reusing the same few and the rest are never
// allocated. get never waits: a peer that stops reading what we send, or
// stops sending a block it started, holds at most the one buffer of its
// stream, and the other peers' streams take another (a fresh one when
// none is free), so one slow or hostile peer cannot stall the node's
// transfers. What bounds the buffers in use is what comes before: for
// received leaves, waitRoom, which holds a reader back before it reads a
// block's body while n buffers are with the store (the disk is behind),
// and the peers sending at once (a leaf being read is taken, not counted,
// until it is queued); for served leaves, the choker's upload slots and
// the upload limiter.
type leafBufs struct {
	n    int
	mu   sync.Mutex
	used int
	free [][]byte
	// room is closed, and replaced, when used drops below n.
	room chan struct{}
}

func newLeafBufs(n int) *leafBufs {
	return &leafBufs{n: n, room: make(chan struct{})}
}

// get returns a buffer of size bytes, at once, counted as in use until
// put.
func (p *leafBufs) get(size int) []byte {
	p.commit()
	return p.take(size)
}

// take returns a buffer of size bytes, at once, not counted as in use: a
// reader reads a leaf into it (readerLeaves) and counts it (commit) only
// once the leaf is whole and queued for the store, so a peer that stops
// inside a leaf holds its buffer but never makes the other readers wait
// (waitRoom).
func (p *leafBufs) take(size int) []byte {
	p.mu.Lock()
	var b []byte
	if k := len(p.free); k > 0 {
		b = p.free[k-1]
		p.free = p.free[:k-1]
	}
	p.mu.Unlock()
	if cap(b) < size {
		b = chunker.AlignedBuffer(size) // so the store can write it with direct I/O
	}
	return b[:size]
}

// commit counts a buffer from take as in use: put gives it back.
func (p *leafBufs) commit() {
	p.mu.Lock()
	p.used++
	p.mu.Unlock()
}

// drop gives back a buffer from take that was never committed.
func (p *leafBufs) drop(b []byte) {
	p.mu.Lock()
	p.keep(b)
	p.mu.Unlock()
}

// keep adds b to the free buffers, unless n are free already. p.mu held.
func (p *leafBufs) keep(b []byte) {
	if len(p.free) < p.n {
		p.free = append(p.free, b[:0])
	}
}

// put returns a buffer from get, or from take once committed; beyond n
// free ones it is dropped.
func (p *leafBufs) put(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keep(b)
	p.used--
	if p.used == p.n-1 {
		close(p.room)
		p.room = make(chan struct{})
	}
}

// readerLeaves lends a Reader the buffers of p, uncounted (take, drop).
type readerLeaves struct{ p *leafBufs }

func (r readerLeaves) Get(n int) []byte { return r.p.take(n) }
func (r readerLeaves) Put(b []byte)     { r.p.drop(b) }

// hasRoom reports whether fewer than n buffers are in use.
func (p *leafBufs) hasRoom() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.used < p.n
}

// waitRoom waits until fewer than n buffers are in use.
func (p *leafBufs) waitRoom(ctx context.Context) error {
	for {
		p.mu.Lock()
		if p.used < p.n {
			p.mu.Unlock()
			return nil
		}
		room := p.room
		p.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
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
