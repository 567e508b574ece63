package swarm

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/myco-p2p/myco/chunker"
)

// Download is one running fetch. Its session keeps seeding after it
// completes, until the service closes or Stop is called.
type Download struct {
	sess    *session
	fresh   bool // started with a destination, not resumed
	timeout time.Duration
	updates chan struct{}
	done    chan struct{}

	mu   sync.Mutex
	info chunker.RootInfo
	err  error
	end  bool
}

func newDownload(sess *session, fresh bool, timeout time.Duration) *Download {
	return &Download{
		sess:    sess,
		fresh:   fresh,
		timeout: timeout,
		updates: make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
}

// Root is the CID being downloaded.
func (d *Download) Root() cid.Cid { return d.sess.root }

// Updates receives a value whenever the progress changed (a leaf arrived,
// a peer came or went, a tick passed); read Progress then. Updates are
// coalesced: a slow reader sees the latest state, never a backlog.
func (d *Download) Updates() <-chan struct{} { return d.updates }

// Done is closed when the download ends: complete, failed, stopped or
// closed with the service.
func (d *Download) Done() <-chan struct{} { return d.done }

// Result returns the kept root, or why the download failed. It is valid
// once Done is closed.
func (d *Download) Result() (chunker.RootInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.end {
		return chunker.RootInfo{}, fmt.Errorf("download %s: still running", d.sess.root)
	}
	return d.info, d.err
}

// Wait blocks until the download ends or ctx is done.
func (d *Download) Wait(ctx context.Context) (chunker.RootInfo, error) {
	select {
	case <-d.done:
		return d.Result()
	case <-ctx.Done():
		return chunker.RootInfo{}, fmt.Errorf("wait for %s: %w", d.sess.root, ctx.Err())
	}
}

// Progress returns the session's state: leaves and bytes on disk, peers,
// rates.
func (d *Download) Progress() SessionStats { return d.sess.stats() }

// Stop ends the download (and the seeding after it) with ErrStopped. What
// is on disk stays; Fetch with dest "" resumes it.
func (d *Download) Stop() { d.sess.shutdown(ErrStopped) }

// Cancel ends the download with ErrCancelled and removes its partial
// data unless keepPartial. (Stub: keeps the data for now.)
func (d *Download) Cancel(keepPartial bool) { d.sess.shutdown(ErrCancelled) }

// Dest is where the verified content goes (it may change once peers
// announce the root's name).
func (d *Download) Dest() string {
	d.sess.mu.Lock()
	defer d.sess.mu.Unlock()
	if d.sess.fetch != nil {
		return d.sess.fetch.Dest()
	}
	return ""
}

func (d *Download) notify() {
	select {
	case d.updates <- struct{}{}:
	default:
	}
}

func (d *Download) finish(info chunker.RootInfo, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.end {
		return
	}
	d.end, d.info, d.err = true, info, err
	close(d.done)
	d.notify()
}
