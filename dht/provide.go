package dht

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
)

// Provide remembers root c in the provide set (persistently, before
// anything goes on the wire) and announces it to the peers closest to it
// now, waiting for the announcement, bounded by ctx and ProvideTimeout. A
// root that could not be announced stays in the set and pending; the next
// reprovide tries again. Provide only roots: the swarm finds a file's
// chunks from the peers that hold its root.
func (d *DHT) Provide(ctx context.Context, c cid.Cid) error {
	if err := checkCID("provide", c); err != nil {
		return err
	}
	ctx, leave, err := d.enter(ctx)
	if err != nil {
		return fmt.Errorf("provide %s: %w", c, err)
	}
	defer leave()
	if err := d.set.Add(ctx, c); err != nil {
		return fmt.Errorf("provide: %w", err)
	}
	d.markPending(c)
	if err := d.announce(ctx, c); err != nil {
		return fmt.Errorf("provide %s: %w", c, err)
	}
	return nil
}

// Unprovide forgets root c: it is no longer reprovided, and the records
// other nodes hold age out after their validity. It reports whether c was
// in the set.
func (d *DHT) Unprovide(ctx context.Context, c cid.Cid) (bool, error) {
	if err := checkCID("unprovide", c); err != nil {
		return false, err
	}
	ctx, leave, err := d.enter(ctx)
	if err != nil {
		return false, fmt.Errorf("unprovide %s: %w", c, err)
	}
	defer leave()
	had, err := d.set.Remove(ctx, c)
	if err != nil {
		return false, fmt.Errorf("unprovide: %w", err)
	}
	d.mu.Lock()
	delete(d.pending, c)
	d.mu.Unlock()
	return had, nil
}

// Provided lists the roots in the provide set.
func (d *DHT) Provided(ctx context.Context) ([]cid.Cid, error) {
	ctx, leave, err := d.enter(ctx)
	if err != nil {
		return nil, fmt.Errorf("list roots: %w", err)
	}
	defer leave()
	return d.set.All(ctx)
}

// ReprovideReport says what one reprovide did.
type ReprovideReport struct {
	Roots     int       // roots in the set when it began
	Announced int       // roots announced successfully
	Failed    int       // roots whose announcement failed; they stay pending
	At        time.Time // when it began, by the injected clock
}

// Reprovide announces every root in the set now, ReprovideConcurrency at a
// time, and waits. The scheduled reprovider calls it; the node may too. The
// error joins the failures, each naming its root.
func (d *DHT) Reprovide(ctx context.Context) (ReprovideReport, error) {
	rep := ReprovideReport{At: d.cfg.Now()}
	ctx, leave, err := d.enter(ctx)
	if err != nil {
		return rep, fmt.Errorf("reprovide: %w", err)
	}
	defer leave()
	roots, listErr := d.set.All(ctx)
	rep.Roots = len(roots)
	d.mu.Lock()
	for _, c := range roots {
		d.pending[c] = struct{}{}
	}
	d.mu.Unlock()

	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	if listErr != nil {
		errs = append(errs, listErr)
	}
	work := make(chan cid.Cid)
	for range d.cfg.ReprovideConcurrency {
		wg.Go(func() {
			for c := range work {
				err := d.announce(ctx, c)
				mu.Lock()
				if err != nil {
					rep.Failed++
					errs = append(errs, fmt.Errorf("reprovide %s: %w", c, err))
				} else {
					rep.Announced++
				}
				mu.Unlock()
			}
		})
	}
feed:
	for _, c := range roots {
		select {
		case work <- c:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if ctx.Err() != nil {
		errs = append(errs, fmt.Errorf("reprovide: %w", ctx.Err()))
	}
	err = errors.Join(errs...)

	d.mu.Lock()
	d.lastReprovide = rep.At
	d.lastErr = err
	d.mu.Unlock()
	d.log.Info("reprovided", "roots", rep.Roots, "announced", rep.Announced, "failed", rep.Failed)
	return rep, err
}

// announce sends c's provider record to the closest peers and, on success,
// clears it from pending unless it was unprovided meanwhile.
func (d *DHT) announce(ctx context.Context, c cid.Cid) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.ProvideTimeout)
	defer cancel()
	if err := d.kad.Provide(ctx, c, true); err != nil {
		d.log.Debug("announce failed", "cid", c, "err", err)
		return fmt.Errorf("announce: %w", err)
	}
	d.mu.Lock()
	delete(d.pending, c)
	d.mu.Unlock()
	return nil
}

func (d *DHT) markPending(c cid.Cid) {
	d.mu.Lock()
	d.pending[c] = struct{}{}
	d.mu.Unlock()
}

// reprovideLoop runs one Reprovide per tick until Close.
func (d *DHT) reprovideLoop(ticks <-chan time.Time) {
	for {
		select {
		case <-d.ctx.Done():
			return
		case _, ok := <-ticks:
			if !ok {
				return
			}
			rep, err := d.Reprovide(d.ctx)
			if err != nil {
				d.log.Warn("reprovide incomplete", "err", err)
			}
			if d.cfg.OnReprovide != nil {
				d.cfg.OnReprovide(rep, err)
			}
		}
	}
}

// startSchedule is the edge that turns wall-clock time into reprovide
// ticks: one after delay, then one every interval, until Close.
func (d *DHT) startSchedule(delay, interval time.Duration) <-chan time.Time {
	ticks := make(chan time.Time)
	d.wg.Go(func() {
		timer := time.NewTimer(delay)
		defer timer.Stop()
		for {
			select {
			case <-d.ctx.Done():
				return
			case t := <-timer.C:
				select {
				case ticks <- t:
				case <-d.ctx.Done():
					return
				}
				timer.Reset(interval)
			}
		}
	})
	return ticks
}
