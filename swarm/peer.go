package swarm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/myco-p2p/myco/chunker"
)

// peerConn is one peer in one session: a stream with a reader (the
// goroutine that runs run) and a writer goroutine. Everything the writer
// sends goes through its queues, so the stream has one writer.
type peerConn struct {
	sess      *session
	id        peer.ID
	initiator peer.ID
	st        network.Stream
	r         *Reader

	outMu    sync.Mutex
	ctrl     []Message
	serveQ   []Ref
	graceful bool
	wake     chan struct{}
	stop     chan struct{}
	// storeQ carries received leaves from the reader to the store
	// workers; storeErr is their first error, read by run once they are
	// done. storeMu guards it and the workers' share of stages.
	storeQ   chan storeJob
	storeMu  sync.Mutex
	storeErr error
	stages   stages
	stopOnce sync.Once
	// trial caps what the peer gets while on the optimistic slot; only
	// the writer uses it.
	trial *Limiter
	// ahead is the leaf being read for the request after the one being
	// written; only the writer uses it.
	ahead *readAhead
	// pay is set when we pay the peer (it is priced and the fetch has a
	// budget); charged when it pays us (we are priced and it said it
	// pays). badVouchers counts its vouchers refused in a row.
	pay         *peerPayer
	charged     bool
	badVouchers int
	// price is the peer's price per MiB, from its handshake.
	price uint64
	// ctx ends when the connection or the session does; the writer's
	// waits use it.
	ctx    context.Context
	cancel context.CancelFunc

	// bodyLast is when the reader last got bytes of a block's body, or
	// started on it (Unix nanoseconds on the service's clock), 0 when it
	// is not in one; the tick drops a peer that sent nothing of it for
	// StreamTimeout (dropStalled).
	bodyLast atomic.Int64
	// downTaken: the frame being read took its download tokens before
	// its body (beforeBody); waited is how long that and the wait for
	// room at the store took. Only the reader uses them.
	downTaken bool
	waited    time.Duration
}

func newPeerConn(s *session, st network.Stream, r *Reader, id, initiator peer.ID) *peerConn {
	ctx, cancel := context.WithCancel(s.ctx)
	pc := &peerConn{
		ctx: ctx, cancel: cancel,
		sess: s, id: id, initiator: initiator, st: st, r: r,
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		storeQ: make(chan storeJob, storeDepth),
	}
	r.UseFramePool(s.svc.frames)
	r.UseLeafBuffers(readerLeaves{s.svc.leafBufs})
	r.OnLargeFrame(pc.beforeBody, pc.bodyProgress)
	return pc
}

// beforeBody runs once the length of a large frame (a block) is read,
// before a buffer is taken for its body: it waits for the frame's
// download tokens and for room at the store, holding nothing, then starts
// the body's clock (dropStalled).
func (pc *peerConn) beforeBody(n int) error {
	svc := pc.sess.svc
	t0 := svc.now()
	if err := svc.down.Wait(pc.ctx, n); err != nil {
		return err
	}
	pc.downTaken = true
	if err := svc.leafBufs.waitRoom(pc.ctx); err != nil {
		return err
	}
	now := svc.now()
	pc.waited = now.Sub(t0)
	pc.bodyLast.Store(now.UnixNano())
	return nil
}

// bodyProgress restarts the body's clock: bytes of it arrived.
func (pc *peerConn) bodyProgress() { pc.bodyLast.Store(pc.sess.svc.now().UnixNano()) }

// dropStalled drops the peers of the session that are inside a block and
// sent nothing of it for StreamTimeout: a sender that goes silent after a
// block's length holds a buffer, and an honest one never pauses that
// long, since its own writes time out then (writeLoop); one that is only
// slow keeps sending. The peer is reported like one over its message
// budget (Config.OnOverBudget).
func (s *session) dropStalled(now time.Time) {
	limit := s.svc.cfg.StreamTimeout
	type stall struct {
		pc   *peerConn
		last int64
	}
	var stalled []stall
	s.mu.Lock()
	for _, pc := range s.conns {
		if t := pc.bodyLast.Load(); t != 0 && now.Sub(time.Unix(0, t)) > limit {
			stalled = append(stalled, stall{pc, t})
		}
	}
	s.mu.Unlock()
	for _, st := range stalled {
		pc := st.pc
		if !pc.bodyLast.CompareAndSwap(st.last, 0) {
			continue // finished or went on meanwhile
		}
		s.log.Debug("peer stalled in a block", "peer", pc.id, "limit", limit)
		pc.halt()
		pc.st.Reset()
		if s.svc.cfg.OnOverBudget != nil {
			s.svc.cfg.OnOverBudget(pc.id)
		}
	}
}

// queue sends m after the messages queued before it. A peer that lets
// maxCtrlQueue messages pile up is dropped.
func (pc *peerConn) queue(m Message) {
	pc.outMu.Lock()
	over := len(pc.ctrl) >= maxCtrlQueue
	if !over {
		pc.ctrl = append(pc.ctrl, m)
	}
	pc.outMu.Unlock()
	if over {
		pc.halt()
		return
	}
	pc.poke()
}

func (pc *peerConn) poke() {
	select {
	case pc.wake <- struct{}{}:
	default:
	}
}

func (pc *peerConn) enqueueServe(ref Ref) bool {
	pc.outMu.Lock()
	defer pc.outMu.Unlock()
	if len(pc.serveQ) >= maxServeQueue {
		return false
	}
	pc.serveQ = append(pc.serveQ, ref)
	pc.poke()
	return true
}

func (pc *peerConn) cancelServe(ref Ref) {
	pc.outMu.Lock()
	defer pc.outMu.Unlock()
	for k, r := range pc.serveQ {
		if r == ref {
			pc.serveQ = append(pc.serveQ[:k], pc.serveQ[k+1:]...)
			return
		}
	}
}

func (pc *peerConn) clearServe() {
	pc.outMu.Lock()
	pc.serveQ = pc.serveQ[:0]
	pc.outMu.Unlock()
}

func (pc *peerConn) halt() {
	pc.stopOnce.Do(func() {
		close(pc.stop)
		pc.cancel()
	})
}

// finishGracefully closes the stream once the queued messages are sent:
// both sides hold every leaf, so there is nothing left to trade.
func (pc *peerConn) finishGracefully() {
	pc.outMu.Lock()
	pc.graceful = true
	pc.outMu.Unlock()
	pc.poke()
}

// run reads the peer's messages until the stream ends, then removes the
// peer from its session. A peer that sent bad data is banned from the
// root and its connection closed.
func (pc *peerConn) run() {
	s := pc.sess
	writerDone := make(chan struct{})
	if !s.svc.spawn(func() {
		defer close(writerDone)
		pc.writeLoop()
	}) {
		pc.st.Reset()
		s.remove(pc)
		return
	}
	var stores sync.WaitGroup
	for range storeWorkers {
		stores.Add(1)
		if !s.svc.spawn(func() {
			defer stores.Done()
			pc.storeLoop()
		}) {
			stores.Done()
			pc.halt()
			close(pc.storeQ)
			stores.Wait()
			<-writerDone
			s.remove(pc)
			return
		}
	}
	payDone := make(chan struct{})
	if pc.pay == nil || !s.svc.spawn(func() {
		defer close(payDone)
		pc.payLoop()
	}) {
		close(payDone)
	}
	err := pc.readLoop()
	pc.r.Release()
	pc.halt()
	close(pc.storeQ)
	stores.Wait()
	<-writerDone
	<-payDone
	if pc.storeErr != nil && !errors.Is(err, ErrBadData) {
		err = pc.storeErr
	}
	pc.stages.log(s.log, pc.id)
	s.remove(pc)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, ErrBadData) {
		s.log.Debug("peer left", "peer", pc.id, "err", err)
	}
}

func (pc *peerConn) readLoop() error {
	s := pc.sess
	for {
		t0 := s.svc.now()
		pc.downTaken, pc.waited = false, 0
		m, err := pc.r.ReadMessage()
		pc.bodyLast.Store(0)
		if err != nil {
			return err
		}
		select {
		case <-pc.stop: // dropped: what it sends now is not heard
			return context.Canceled
		default:
		}
		if b, ok := m.(*Block); ok {
			if b.Ref.IsLeaf() {
				pc.stages.net += s.svc.now().Sub(t0) - pc.waited
				pc.stages.queue += pc.waited
			}
			if !pc.downTaken { // a small block: its tokens once read
				if err := s.svc.down.Wait(pc.ctx, len(b.Data)); err != nil {
					return err
				}
			}
			err := s.onBlock(pc, b) // takes b.Data's buffer, or copies it out
			pc.r.Release()
			if err != nil {
				return err
			}
			continue
		}
		// A control message is charged to its peer's budget before it
		// is handled (budget.go).
		if err := s.svc.admitMessage(pc.ctx, pc.id, 1+m.payloadLen()); err != nil {
			return err
		}
		switch m := m.(type) {
		case *Payment:
			if err := pc.onPayment(m); err != nil {
				return err
			}
			continue
		case *Reject:
			if m.Reason == RejectUnpaid && pc.pay != nil {
				pc.resendPayment()
			}
		}
		s.stepFrom(pc, evMessage{id: pc.id, msg: m, now: s.svc.now()})
	}
}

// queueLeaf hands leaf i to the store workers: the buffer the reader read
// it into (a large leaf, Reader.UseLeafBuffers), or else a copy of data,
// the reader's own buffer. It waits for a place in the peer's store
// queue. (The reader waited for room at the store before it read a large
// block, beforeBody, so the buffer is counted without waiting.)
func (pc *peerConn) queueLeaf(i int, data []byte) error {
	svc := pc.sess.svc
	bufs := svc.leafBufs
	buf := pc.r.TakeLeaf()
	if buf != nil {
		bufs.commit()
	} else {
		buf = bufs.get(len(data))
		copy(buf, data)
		pc.r.Release()
	}
	t0 := svc.now()
	select {
	case pc.storeQ <- storeJob{index: i, data: buf}:
		pc.stages.queue += svc.now().Sub(t0)
		return nil
	case <-pc.stop:
		bufs.put(buf)
		return context.Canceled
	}
}

// storeLoop verifies and writes the leaves the reader queues; storeWorkers
// of them share the peer's queue. After an error (bad data ends the peer)
// they only free the rest of the queue.
func (pc *peerConn) storeLoop() {
	svc := pc.sess.svc
	var st stages // this worker's, added to the peer's at the end
	t := svc.now()
	for job := range pc.storeQ {
		t0 := svc.now()
		st.storeIdle += t0.Sub(t)
		pc.storeMu.Lock()
		failed := pc.storeErr != nil
		pc.storeMu.Unlock()
		if !failed {
			if err := pc.sess.storeLeaf(pc, job.index, job.data); err != nil {
				pc.storeMu.Lock()
				if pc.storeErr == nil {
					pc.storeErr = err
				}
				pc.storeMu.Unlock()
				pc.halt()
			}
		}
		svc.leafBufs.put(job.data)
		t = svc.now()
		st.store += t.Sub(t0)
		st.leaves++
	}
	pc.storeMu.Lock()
	pc.stages.store += st.store
	pc.stages.storeIdle += st.storeIdle
	pc.stages.leaves += st.leaves
	pc.storeMu.Unlock()
}

// writeLoop sends the queued control messages, then serves one requested
// block, and again; it flushes when the queues are empty. It resets the
// stream when it stops, unless the end is graceful.
func (pc *peerConn) writeLoop() {
	bw := bufio.NewWriterSize(pc.st, 64<<10)
	w := NewWriter(bw)
	graceful := false
	defer func() {
		if ra := pc.ahead; ra != nil {
			<-ra.done
			pc.sess.svc.serveBufs.put(ra.buf)
			pc.ahead = nil
		}
		if graceful {
			pc.st.Close()
		} else {
			pc.st.Reset()
		}
	}()
	timeout := pc.sess.svc.cfg.StreamTimeout
	settled := false
	for {
		select {
		case <-pc.stop:
			return
		default:
		}
		pc.outMu.Lock()
		ctrl := pc.ctrl
		pc.ctrl = nil
		var ref Ref
		serve := len(pc.serveQ) > 0
		if serve {
			ref = pc.serveQ[0]
			pc.serveQ = pc.serveQ[1:]
		}
		ending := pc.graceful
		pc.outMu.Unlock()
		if len(ctrl) == 0 && !serve {
			if bw.Buffered() > 0 {
				pc.st.SetWriteDeadline(time.Now().Add(timeout))
				if bw.Flush() != nil {
					return
				}
			}
			if ending && pc.pay != nil && !settled {
				// Pay for the last leaves before the stream closes.
				settled = true
				ctx, cancel := context.WithTimeout(pc.ctx, timeout)
				pc.payDue(ctx, true)
				cancel()
				continue
			}
			if ending {
				graceful = true
				return
			}
			if idle := pc.sess.svc.cfg.writerIdle; idle != nil {
				idle()
			}
			t0 := pc.sess.svc.now()
			select {
			case <-pc.wake:
			case <-pc.stop:
				return
			}
			pc.stages.idle += pc.sess.svc.now().Sub(t0)
			continue
		}
		pc.st.SetWriteDeadline(time.Now().Add(timeout))
		for _, m := range ctrl {
			if w.WriteMessage(m) != nil {
				return
			}
		}
		if serve && pc.serve(w, ref) != nil {
			return
		}
	}
}

// serve sends one requested block, within the upload limit.
func (pc *peerConn) serve(w *Writer, ref Ref) error {
	s := pc.sess
	svc := s.svc
	c := ref.CID
	size := int64(-1)
	if ref.IsLeaf() {
		s.mu.Lock()
		lf, ok := s.st.leaf(ref.Index)
		s.mu.Unlock()
		if !ok {
			return w.WriteMessage(&Reject{Ref: ref, Reason: RejectNotFound})
		}
		c, size = lf.Cid, lf.Size
		if size > 0 && pc.charged {
			if done, err := pc.charge(w, ref, int(size), s.svc.cfg.RequestTimeout/2); done {
				return err
			}
		}
		if size > 0 {
			if err := pc.waitUpload(int(size)); err != nil {
				return err
			}
			if pc.chokedNow() {
				return nil
			}
		}
	}
	t0 := svc.now()
	var buf, data []byte
	var err error
	if ra := pc.takeReadAhead(ref); ra != nil {
		buf, data, err = ra.buf, ra.data, ra.err
	} else {
		if size > 0 {
			// Taken after the limiter, without waiting: a peer that
			// does not read what we send holds this one until the write
			// deadline, not the buffers of the other peers' writers.
			buf = svc.serveBufs.get(int(size))
		}
		data, err = svc.store.GetInto(pc.ctx, c, buf)
	}
	if buf != nil {
		defer svc.serveBufs.put(buf)
	}
	t1 := svc.now()
	if err != nil {
		if errors.Is(err, chunker.ErrSourceChanged) || errors.Is(err, chunker.ErrSourceMissing) {
			// The shared file changed or vanished: the root cannot be
			// served any more. The session stops serving it and the
			// service logs it once.
			if werr := w.WriteMessage(&Reject{Ref: ref, Reason: RejectBroken}); werr != nil {
				return werr
			}
			s.step(evSourceBroken{err: err})
			return nil
		}
		s.log.Debug("cannot serve block", "ref", ref, "err", err)
		return w.WriteMessage(&Reject{Ref: ref, Reason: RejectNotFound})
	}
	if ref.IsLeaf() {
		if size <= 0 && pc.charged {
			if done, err := pc.charge(w, ref, len(data), 0); done {
				return err
			}
		}
		if size <= 0 {
			if err := pc.waitUpload(len(data)); err != nil {
				return err
			}
			if pc.chokedNow() {
				return nil
			}
		}
		if svc.cfg.corrupt != nil {
			data = svc.cfg.corrupt(ref.Index, data)
		}
		pc.startReadAhead()
	}
	if err := w.WriteMessage(&Block{Ref: ref, Data: data}); err != nil {
		if pc.charged && ref.IsLeaf() {
			svc.pay.refund(pc.id, len(data)) // not sent: not owed
		}
		return err
	}
	now := svc.now()
	if ref.IsLeaf() {
		pc.stages.served++
		pc.stages.read += t1.Sub(t0)
		pc.stages.write += now.Sub(t1)
	}
	svc.acct.Uploaded(pc.id, len(data), now)
	svc.rootUploaded(s.root, len(data))
	s.acct.Uploaded(pc.id, len(data), now)
	if ref.IsLeaf() {
		if svc.cfg.served != nil {
			svc.cfg.served(pc.id, ref.Index)
		}
		s.stepFrom(pc, evSent{id: pc.id, index: ref.Index, n: len(data), now: now})
	}
	return nil
}

// chokedNow reports whether we choked the peer, for a leaf that waited
// for the upload limiter: a choke discards the peer's requests, that
// one too.
func (pc *peerConn) chokedNow() bool {
	pc.sess.mu.Lock()
	defer pc.sess.mu.Unlock()
	ps := pc.sess.st.peers[pc.id]
	return ps == nil || ps.amChoking
}

// waitUpload waits until n bytes may be sent to the peer: within the
// node's upload cap and, for a peer on the optimistic slot of a download,
// within that slot's share of the cap (cap/(Slots+1)). The optimistic slot
// is a trial: it lets a new peer show what it gives back, not a way to
// take the bandwidth the peers that reciprocate leave unused. Without
// this cap a free-rider, always asking, soaks up every idle moment of
// every uploader that unchokes it and keeps pace with the swarm.
func (pc *peerConn) waitUpload(n int) error {
	svc := pc.sess.svc
	if rate := svc.up.Rate(); rate > 0 {
		st := pc.sess.st
		pc.sess.mu.Lock()
		trial := (st.fetching || st.choker.Config().Priced) && st.choker.Slot(pc.id) == SlotOptimistic && !st.choker.Pays(pc.id)
		share := rate / int64(st.choker.Config().Slots+1)
		pc.sess.mu.Unlock()
		if trial {
			if pc.trial == nil {
				pc.trial = NewLimiter(share, svc.now(), svc.clock)
			} else if pc.trial.Rate() != share {
				pc.trial.SetRate(share, svc.now())
			}
			if err := pc.trial.Wait(pc.ctx, n); err != nil {
				return err
			}
		}
	}
	return svc.up.Wait(pc.ctx, n)
}

// charge charges the paying peer for a leaf of n bytes before it is sent,
// waiting up to wait for its payment (pay.go). done reports that the leaf
// must not be sent: the peer fell behind (it was told so, err is the
// write's) or the stream ended (err).
func (pc *peerConn) charge(w *Writer, ref Ref, n int, wait time.Duration) (done bool, err error) {
	svc := pc.sess.svc
	err = svc.pay.charge(pc.ctx, svc.clock, pc.id, n, wait)
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, errUnpaid) {
		return true, err
	}
	pc.sess.stepFrom(pc, evUnpaid{id: pc.id, now: svc.now()})
	return true, w.WriteMessage(&Reject{Ref: ref, Reason: RejectUnpaid})
}

// maxBadVouchers is how many refused vouchers in a row drop a peer. One
// refusal may be a race (our chain has not seen the channel's opening
// yet); the next voucher, cumulative, pays for the same leaves again.
const maxBadVouchers = 3

// onPayment takes a voucher the peer paid us with.
func (pc *peerConn) onPayment(m *Payment) error {
	s := pc.sess
	svc := s.svc
	if !pc.charged {
		return fmt.Errorf("%w: a payment from a peer that did not say it pays, or to a free node", errProtocol)
	}
	added, err := svc.cfg.AcceptPayment(pc.id, m.Voucher)
	if err != nil {
		if pc.badVouchers++; pc.badVouchers >= maxBadVouchers {
			return fmt.Errorf("%w: %d vouchers refused in a row, the last: %w", errProtocol, pc.badVouchers, err)
		}
		s.log.Debug("voucher refused", "peer", pc.id, "err", err)
		return nil
	}
	pc.badVouchers = 0
	if added == 0 {
		return nil
	}
	svc.pay.credit(pc.id, added)
	s.stepFrom(pc, evPaid{id: pc.id, n: bytesFor(added, svc.cfg.Price), now: svc.now()})
	return nil
}

// readAhead is a leaf read from the store for the request queued after
// the one being written, so that reading it overlaps the write. It takes
// a serve buffer only when the pool has one free (startReadAhead), so it
// never adds to the buffers held when many streams send at once.
type readAhead struct {
	ref  Ref
	buf  []byte
	data []byte
	err  error
	done chan struct{}
}

// startReadAhead starts reading the leaf at the head of the serve queue,
// unless one is being read already. The limiter and the choke are checked
// when it is served, as for any leaf; a read-ahead that is not served next
// (cancelled, choked) is dropped.
func (pc *peerConn) startReadAhead() {
	if pc.ahead != nil {
		return
	}
	pc.outMu.Lock()
	var ref Ref
	queued := len(pc.serveQ) > 0
	if queued {
		ref = pc.serveQ[0]
	}
	pc.outMu.Unlock()
	if !queued || !ref.IsLeaf() {
		return
	}
	s := pc.sess
	s.mu.Lock()
	lf, ok := s.st.leaf(ref.Index)
	s.mu.Unlock()
	svc := s.svc
	if !ok || lf.Size <= 0 || !svc.serveBufs.hasRoom() {
		return // (a read-ahead takes only a buffer the pool has free)
	}
	ra := &readAhead{ref: ref, buf: svc.serveBufs.get(int(lf.Size)), done: make(chan struct{})}
	if !svc.spawn(func() {
		defer close(ra.done)
		ra.data, ra.err = svc.store.GetInto(pc.ctx, lf.Cid, ra.buf)
	}) {
		svc.serveBufs.put(ra.buf)
		return
	}
	pc.ahead = ra
}

// takeReadAhead returns the read-ahead if it is of leaf ref, once read;
// a read-ahead of another leaf is dropped. A node (ref by CID) leaves it.
func (pc *peerConn) takeReadAhead(ref Ref) *readAhead {
	ra := pc.ahead
	if ra == nil || !ref.IsLeaf() {
		return nil
	}
	pc.ahead = nil
	<-ra.done
	if ra.ref != ref {
		pc.sess.svc.serveBufs.put(ra.buf)
		return nil
	}
	return ra
}
