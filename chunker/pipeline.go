package chunker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/ipfs/go-cid"
)

// chunkSource reads fixed-size chunks ahead of the tree builder and hashes
// them on a few goroutines, delivering them in file order. It holds at most
// hashers+2 chunk buffers, so memory is flat. Whoever starts it calls stop.
type chunkSource struct {
	order chan *chunk   // chunks in file order; closed after the last
	free  chan []byte   // buffers to reuse
	quit  chan struct{} // closed by stop
	wg    sync.WaitGroup
}

type chunk struct {
	buf  []byte
	n    int
	c    cid.Cid
	err  error
	done chan struct{} // closed when c (or err) is set
}

func startChunks(ctx context.Context, r io.Reader, size int) *chunkSource {
	hashers := min(max(runtime.GOMAXPROCS(0), 1), 4)
	slots := hashers + 2
	s := &chunkSource{
		order: make(chan *chunk, slots),
		free:  make(chan []byte, slots),
		quit:  make(chan struct{}),
	}
	for range slots {
		s.free <- make([]byte, size)
	}
	work := make(chan *chunk, slots)
	s.wg.Add(1 + hashers)
	go func() {
		defer s.wg.Done()
		defer close(s.order)
		defer close(work)
		s.read(ctx, r, work)
	}()
	for range hashers {
		go func() {
			defer s.wg.Done()
			for ch := range work {
				ch.c = sumCID(CodecRaw, ch.buf[:ch.n])
				close(ch.done)
			}
		}()
	}
	return s
}

// read fills buffers from r until EOF, an error, or stop. At most one
// chunk per buffer is in flight, so the channel sends never wait long.
func (s *chunkSource) read(ctx context.Context, r io.Reader, work chan<- *chunk) {
	for {
		var buf []byte
		select {
		case buf = <-s.free:
		case <-s.quit:
			return
		}
		ch := &chunk{buf: buf, done: make(chan struct{})}
		last := false
		if err := ctx.Err(); err != nil {
			ch.err = err
		} else {
			n, err := io.ReadFull(r, buf)
			ch.n = n
			switch {
			case err == nil:
			case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
				if n == 0 {
					return
				}
				last = true
			default:
				ch.err = fmt.Errorf("read: %w", err)
			}
		}
		if ch.err != nil {
			close(ch.done)
			select {
			case s.order <- ch:
			case <-s.quit:
			}
			return
		}
		if !s.send(work, ch) || last {
			return
		}
	}
}

// send hands ch to the hashers and queues it in file order.
func (s *chunkSource) send(work chan<- *chunk, ch *chunk) bool {
	select {
	case work <- ch:
	case <-s.quit:
		return false
	}
	select {
	case s.order <- ch:
		return true
	case <-s.quit:
		return false
	}
}

// next returns the next hashed chunk, or nil at the end of the file.
func (s *chunkSource) next() (*chunk, error) {
	ch, ok := <-s.order
	if !ok {
		return nil, nil
	}
	<-ch.done
	if ch.err != nil {
		return nil, ch.err
	}
	return ch, nil
}

// release gives a chunk's buffer back for reuse.
func (s *chunkSource) release(ch *chunk) { s.free <- ch.buf }

// stop ends the goroutines and waits for them.
func (s *chunkSource) stop() {
	close(s.quit) // every send selects on quit; the hashers end when work closes
	s.wg.Wait()
}
