package swarm

import (
	"context"
	"fmt"
	"sync"

	"github.com/ipfs/go-cid"

	"github.com/myco-p2p/myco/chunker"
)

// Download is one fetch. Its session keeps seeding after it completes,
// until the service closes or Stop is called.
//
// How it ends (Result, once Done is closed):
//   - complete: the RootInfo and nil; the content is at Dest;
//   - failed: an error wrapping ErrNoProviders, ErrNoDelivery,
//     ErrSourceBroken or ErrStore (Progress().Reason says it in words);
//     the partial data is removed;
//   - Cancel (or Service.Cancel, Service.Drop): ErrCancelled; the partial
//     data is removed unless kept;
//   - Stop: ErrStopped; Service.Close: ErrClosed. Both keep the partial
//     data, and Fetch with dest "" (Resume) continues from it.
type Download struct {
	sess    *session // set once by newSession
	updates chan struct{}
	done    chan struct{}

	mu   sync.Mutex
	info chunker.RootInfo
	err  error
	end  bool
}

func newDownload() *Download {
	return &Download{
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

// Done is closed when the download ends: complete, failed, cancelled,
// stopped or closed with the service.
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

// running reports whether the download has not ended yet.
func (d *Download) running() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.end
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

// Progress returns the session's state: lifecycle, leaves and bytes on
// disk, peers, rates. After the session ended it is the final state.
func (d *Download) Progress() SessionStats { return d.sess.stats() }

// Stop ends the download (and the seeding after it) with ErrStopped. What
// is on disk stays; Fetch with dest "" resumes it. It returns once the
// session ended.
func (d *Download) Stop() {
	d.sess.step(evStop{err: fmt.Errorf("download %s: %w", d.sess.root, ErrStopped)})
	<-d.sess.gone
}

// Cancel ends the download with ErrCancelled and removes its partial
// data unless keepPartial. It returns once the fetch is released, so a
// Fetch of the root right after starts clean. A download that completed
// already just stops seeding.
func (d *Download) Cancel(keepPartial bool) {
	d.sess.step(evStop{err: fmt.Errorf("download %s: %w", d.sess.root, ErrCancelled), abort: true, keep: keepPartial})
	<-d.sess.gone
}

// Fail ends the download as failed with err (its reason, as a person
// reads it), removing its partial data: the node uses it when a limit of
// its own, such as a fetch's overall timeout, ran out. It returns once the
// fetch is released.
func (d *Download) Fail(err error) {
	d.sess.step(evStop{err: err, abort: true, fail: true})
	<-d.sess.gone
}

// Dest is where the verified content goes: the destination the fetch was
// started with, or the one derived from the root's name once peers
// announced it (FetchOptions.UseName).
func (d *Download) Dest() string {
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

// RaiseBudget raises what the download may pay priced peers in all to
// max base units (FetchOptions.PayMax); a lower max changes nothing.
func (d *Download) RaiseBudget(max uint64) { d.sess.raiseBudget(max) }
