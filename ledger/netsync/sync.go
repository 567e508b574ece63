package netsync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/myco-p2p/myco/ledger"
)

// requestSync asks the sync loop for a round with p; requests beyond the
// queue's capacity are dropped (a later block or connection asks again).
func (s *Service) requestSync(p peer.ID) {
	select {
	case s.syncReq <- p:
	default:
	}
}

func (s *Service) syncLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-s.syncReq:
			if err := s.syncWith(ctx, p); err != nil && ctx.Err() == nil {
				s.log.Debug("sync", "peer", p, "err", err)
			}
		}
	}
}

// Sync runs a sync round with every connected peer in turn and returns
// when they are done. It fails only if no peer could be synced with.
func (s *Service) Sync(ctx context.Context) error {
	sctx, err := s.running()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(sctx, cancel)
	defer stop()
	var errs []error
	peers := s.h.Network().Peers()
	for _, p := range peers {
		if err := s.syncWith(ctx, p); err != nil {
			errs = append(errs, err)
		}
	}
	if len(peers) > 0 && len(errs) == len(peers) {
		return fmt.Errorf("sync: %w", errors.Join(errs...))
	}
	return nil
}

// syncWith brings the chain up to p's if p's has more work: headers first,
// checked for proof of work and linkage, then the bodies from several
// peers in parallel, connected in order.
func (s *Service) syncWith(ctx context.Context, p peer.ID) error {
	if p == s.h.ID() || s.bl.Banned(p) {
		return nil
	}
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.syncRounds.Add(1)
	for ctx.Err() == nil {
		hdrs, more, err := s.fetchHeaders(ctx, p)
		if err != nil || len(hdrs) == 0 {
			return err
		}
		work, err := s.chain.ValidateHeaders(hdrs, s.now())
		var re *ledger.RuleError
		switch {
		case errors.As(err, &re) && re.Code == ledger.ErrTimeTooNew:
			return fmt.Errorf("sync with %s: headers from the future: %w", p, err)
		case errors.As(err, &re):
			s.misbehave(p, scoreBadResponse, "invalid headers: "+err.Error())
			return fmt.Errorf("sync with %s: %w", p, err)
		case errors.Is(err, ledger.ErrUnknownBlock):
			s.misbehave(p, scoreUnconnected, "headers that do not connect")
			return fmt.Errorf("sync with %s: %w", p, err)
		case err != nil:
			return fmt.Errorf("sync with %s: %w", p, err)
		}
		// A header chain with no more work than ours is not downloaded.
		if tip := s.chain.Tip(); work.Cmp(tip.Work) <= 0 {
			s.log.Debug("peer's chain has no more work", "peer", p, "headers", len(hdrs), "their", work, "ours", tip.Work)
			return nil
		}
		s.syncing.Store(true)
		s.syncHeight.Store(hdrs[len(hdrs)-1].Height)
		err = s.fetchBodies(ctx, p, hdrs)
		s.syncing.Store(false)
		if err != nil {
			return fmt.Errorf("sync with %s: %w", p, err)
		}
		if info, err := s.chain.BlockByHash(s.chain.Tip().Hash); err == nil {
			s.queueAnnounce(s.blocks, info.Block.Encode())
		}
		if !more {
			return nil
		}
	}
	return ctx.Err()
}

// fetchHeaders asks p for the headers after our locator, continuing while
// full responses come, up to MaxRoundHeaders. more says the limit was hit.
func (s *Service) fetchHeaders(ctx context.Context, p peer.ID) ([]ledger.Header, bool, error) {
	locator := s.chain.Locator()
	var all []ledger.Header
	for {
		resp, err := s.request(ctx, p, &message{Type: msgGetHeaders, Hashes: locator})
		if err != nil {
			if errors.Is(err, errMalformed) {
				s.misbehave(p, scoreBadResponse, err.Error())
			}
			return nil, false, err
		}
		hdrs := resp.Headers
		if len(all) > 0 && len(hdrs) > 0 && hdrs[0].PrevHash != all[len(all)-1].Hash() {
			s.misbehave(p, scoreBadResponse, "header batches that do not link")
			return nil, false, fmt.Errorf("headers from %s: batches do not link", p)
		}
		all = append(all, hdrs...)
		if len(hdrs) < MaxHeaders {
			return all, false, nil
		}
		if len(all) >= s.cfg.MaxRoundHeaders {
			return all, true, nil
		}
		locator = []ledger.Hash{all[len(all)-1].Hash()}
	}
}

// batchResult is one batch of fetched bodies.
type batchResult struct {
	idx    int
	blocks []*ledger.Block
	from   peer.ID
}

// fetchBodies downloads the blocks of hdrs that the chain lacks, in
// batches spread over src and up to MaxFetchPeers-1 other peers, and
// connects them in order as they arrive. A peer that lacks a batch or
// fails drops out and its batch goes to another peer; when the source of
// the headers is the one that fails, it is also scored (blameSource). The
// round fails only when no peer is left to fetch from.
func (s *Service) fetchBodies(ctx context.Context, src peer.ID, hdrs []ledger.Header) error {
	var need []ledger.Header
	for i := range hdrs {
		if !s.chain.HasBlock(hdrs[i].Hash()) {
			need = append(need, hdrs[i])
		}
	}
	if len(need) == 0 {
		return nil
	}
	var batches [][]ledger.Header
	for b := s.cfg.BlocksPerRequest; len(need) > 0; {
		n := min(b, len(need))
		batches = append(batches, need[:n])
		need = need[n:]
	}
	peers := []peer.ID{src}
	for _, p := range s.h.Network().Peers() {
		if len(peers) >= s.cfg.MaxFetchPeers {
			break
		}
		if p != src && !s.bl.Banned(p) {
			peers = append(peers, p)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sched := newScheduler(len(batches), s.cfg.Window)
	stopSched := context.AfterFunc(ctx, sched.stop)
	defer stopSched()
	results := make(chan batchResult, len(batches))
	exits := make(chan fetcherExit, len(peers))
	var wg sync.WaitGroup
	srcBlamed := false
	defer func() {
		cancel()
		wg.Wait()
		// The source may have withheld a batch that another peer then
		// served before its fetcher's end was read: it is blamed all
		// the same (only its own failures are, not our cancel).
		close(exits)
		for e := range exits {
			if e.p == src && e.err != nil && !srcBlamed {
				s.blameSource(src, e.err)
			}
		}
	}()
	for _, p := range peers {
		wg.Go(func() {
			err := s.fetcher(ctx, p, batches, sched, results)
			exits <- fetcherExit{p, err}
		})
	}

	pending := make(map[int]batchResult)
	live := len(peers)
	var srcFailure error
	for next := 0; next < len(batches); {
		// Once every fetcher is gone, what they fetched is all in results.
		if live == 0 && len(results) == 0 {
			return fmt.Errorf("fetch bodies: no peer served batch %d of %d (the source %s: %v)", next+1, len(batches), src, srcFailure)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e := <-exits:
			live--
			if e.err != nil && e.p == src {
				srcFailure = e.err
				s.blameSource(src, e.err)
				srcBlamed = true
			}
			continue
		case r := <-results:
			pending[r.idx] = r
		}
		for r, ok := pending[next]; ok; r, ok = pending[next] {
			delete(pending, next)
			for _, blk := range r.blocks {
				if err := s.connectSynced(blk, r.from, src); err != nil {
					return err
				}
			}
			next++
			sched.advance(next)
		}
	}
	return nil
}

// fetcherExit is one fetcher's end: nil when no batch was left.
type fetcherExit struct {
	p   peer.ID
	err error
}

// blameSource scores the peer whose headers started the round when it
// fails to serve their bodies: it announced the chain, so a body it
// withholds or a request it lets time out is its fault (bodies that do not
// match were scored where they were checked). Its batch goes to the other
// peers; helpers that lack a batch are not blamed, they announced nothing.
func (s *Service) blameSource(src peer.ID, err error) {
	switch {
	case errors.Is(err, errNotAvailable):
		s.misbehave(src, scoreWithheld, "withheld the bodies of headers it announced")
	case isTimeout(err):
		s.misbehave(src, scoreStalled, "stalled serving the bodies of headers it announced")
	}
}

// isTimeout says whether err is a deadline that passed (the request's
// context or the stream's I/O deadline).
func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// connectSynced hands one downloaded block to the chain. Its hash matched
// a header that passed proof of work and linkage, so a rule it breaks is
// the fault of the peer whose chain it is.
func (s *Service) connectSynced(blk *ledger.Block, from, src peer.ID) error {
	_, err := s.process(blk, from)
	var re *ledger.RuleError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re) && re.Code == ledger.ErrTimeTooNew:
		s.holdFuture(blk, blk.Hash(), src)
		return fmt.Errorf("block %s is ahead of our clock: %w", blk.Hash(), err)
	case errors.As(err, &re):
		s.misbehave(src, scoreInvalidBlock, "invalid block in sync: "+err.Error())
		return fmt.Errorf("block %s from %s: %w", blk.Hash(), from, err)
	default:
		return fmt.Errorf("connect block %s: %w", blk.Hash(), err)
	}
}

// fetcher fetches batches from p until none are left, the round ends, or p
// fails (the batch then goes back to the others).
func (s *Service) fetcher(ctx context.Context, p peer.ID, batches [][]ledger.Header, sched *scheduler, results chan<- batchResult) error {
	for {
		i, ok := sched.take()
		if !ok {
			return nil
		}
		blocks, err := s.fetchBatch(ctx, p, batches[i])
		if err != nil {
			sched.retry(i)
			if ctx.Err() == nil {
				s.log.Debug("fetch bodies", "peer", p, "err", err)
			}
			return err
		}
		sched.fetched(i)
		results <- batchResult{idx: i, blocks: blocks, from: p} // buffered for every batch
	}
}

var errNotAvailable = errors.New("peer does not have the block")

// fetchBatch asks p for the bodies of hdrs (again for the rest when a
// response stops early) and checks each against its header's hash.
func (s *Service) fetchBatch(ctx context.Context, p peer.ID, hdrs []ledger.Header) ([]*ledger.Block, error) {
	hashes := make([]ledger.Hash, len(hdrs))
	for i := range hdrs {
		hashes[i] = hdrs[i].Hash()
	}
	out := make([]*ledger.Block, 0, len(hdrs))
	for len(out) < len(hashes) {
		ask := hashes[len(out):]
		resp, err := s.request(ctx, p, &message{Type: msgGetBlocks, Hashes: ask})
		if err != nil {
			if errors.Is(err, errMalformed) {
				s.misbehave(p, scoreBadResponse, err.Error())
			}
			return nil, err
		}
		if len(resp.Blocks) == 0 || len(resp.Blocks) > len(ask) {
			s.misbehave(p, scoreBadResponse, "wrong number of blocks")
			return nil, fmt.Errorf("%d blocks in answer to %d", len(resp.Blocks), len(ask))
		}
		for j, raw := range resp.Blocks {
			if raw == nil {
				return nil, fmt.Errorf("block %s: %w", ask[j], errNotAvailable)
			}
			blk, err := ledger.DecodeBlock(raw, s.p.MaxBlockSize)
			if err != nil {
				s.misbehave(p, scoreBadResponse, "undecodable block: "+err.Error())
				return nil, err
			}
			// A body answers a request only if it is the block the header names.
			if blk.Hash() != ask[j] {
				s.misbehave(p, scoreBadResponse, "a block other than the one asked for")
				return nil, fmt.Errorf("asked for %s, got %s", ask[j], blk.Hash())
			}
			out = append(out, blk)
		}
	}
	return out, nil
}

// scheduler hands out body batches to fetchers: always the lowest batch
// not yet fetched or in flight, and only within window batches of the next
// one to connect, so memory stays bounded and a failed batch is retried
// before later ones.
type scheduler struct {
	mu      sync.Mutex
	cond    *sync.Cond
	state   []uint8 // batchTodo, batchInFlight, batchFetched
	next    int
	window  int
	stopped bool
}

const (
	batchTodo uint8 = iota
	batchInFlight
	batchFetched
)

func newScheduler(n, window int) *scheduler {
	s := &scheduler{state: make([]uint8, n), window: window}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// take returns the next batch to fetch; false when there is none left or
// the round is over.
func (s *scheduler) take() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.stopped {
		done := true
	scan:
		for i := s.next; i < len(s.state); i++ {
			switch s.state[i] {
			case batchTodo:
				if i < s.next+s.window {
					s.state[i] = batchInFlight
					return i, true
				}
				done = false
				break scan
			case batchInFlight:
				done = false // it may fail and come back
			}
		}
		if done {
			return 0, false
		}
		s.cond.Wait()
	}
	return 0, false
}

func (s *scheduler) set(i int, st uint8) {
	s.mu.Lock()
	s.state[i] = st
	s.mu.Unlock()
	s.cond.Broadcast()
}

func (s *scheduler) fetched(i int) { s.set(i, batchFetched) }
func (s *scheduler) retry(i int)   { s.set(i, batchTodo) }

func (s *scheduler) advance(next int) {
	s.mu.Lock()
	s.next = next
	s.mu.Unlock()
	s.cond.Broadcast()
}

func (s *scheduler) stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.cond.Broadcast()
}
