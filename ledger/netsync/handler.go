package netsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/myco-p2p/myco/ledger"
)

// maxRequestSize is the largest request frame: a get-blocks of
// MaxBlocksPerRequest hashes (a locator is smaller).
const maxRequestSize = 3 + MaxBlocksPerRequest*ledger.HashSize

// handleStream serves one request of the chain protocol: it reads a frame
// of at most maxRequestSize bytes under a deadline, answers it and closes
// the stream; any error resets it. A banned peer is refused.
func (s *Service) handleStream(str network.Stream) {
	from := str.Conn().RemotePeer()
	if s.bl.Banned(from) {
		str.Reset()
		return
	}
	if err := s.serve(str, from); err != nil {
		s.log.Debug("chain request", "peer", from, "err", err)
		str.Reset()
		return
	}
	str.Close()
}

func (s *Service) serve(str network.Stream, from peer.ID) error {
	ctx, err := s.running()
	if err != nil {
		return err
	}
	if err := str.Scope().SetService(ServiceName); err != nil {
		return fmt.Errorf("attach to resource scope: %w", err)
	}
	// The deadline guards the I/O of this edge; it is wall-clock time,
	// not the ledger's clock.
	if err := str.SetDeadline(time.Now().Add(s.cfg.RequestTimeout)); err != nil {
		return err
	}
	// The request is charged before any work is done for it.
	if err := s.charge(ctx, from, func(now time.Time) (verdict, time.Duration) {
		return s.budget.request(from, now)
	}); err != nil {
		return err
	}
	n, err := readFrameLen(str, maxRequestSize)
	if err != nil {
		if errors.Is(err, errMalformed) {
			s.misbehave(from, scoreBadResponse, err.Error())
		}
		return fmt.Errorf("read request: %w", err)
	}
	if err := str.Scope().ReserveMemory(n, network.ReservationPriorityMedium); err != nil {
		return fmt.Errorf("reserve request memory: %w", err)
	}
	defer str.Scope().ReleaseMemory(n)
	buf := make([]byte, n)
	if _, err := io.ReadFull(str, buf); err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	req, err := decodeMessage(buf, maxRequestSize)
	if err != nil {
		s.misbehave(from, scoreBadResponse, err.Error())
		return fmt.Errorf("decode request: %w", err)
	}
	resp, err := s.handleRequest(ctx, from, req)
	if err != nil {
		return err
	}
	body := resp.encode()
	if err := s.charge(ctx, from, func(now time.Time) (verdict, time.Duration) {
		return s.budget.response(from, now, len(resp.Headers), len(body))
	}); err != nil {
		return err
	}
	if err := str.Scope().ReserveMemory(len(body), network.ReservationPriorityMedium); err != nil {
		return fmt.Errorf("reserve response memory: %w", err)
	}
	defer str.Scope().ReleaseMemory(len(body))
	if err := writeFrame(str, resp); err != nil {
		return fmt.Errorf("write response: %w", err)
	}
	return nil
}

var errOverBudget = errors.New("peer is over its chain request budget")

// charge applies the peer's budget to one request or response: within it,
// nothing happens; a little over it, the answer waits until the peer's
// tokens are back (the wait is on the wall clock, like the stream's
// deadline); further over it, the request is refused and scored.
func (s *Service) charge(ctx context.Context, from peer.ID, take func(time.Time) (verdict, time.Duration)) error {
	v, wait := take(s.now())
	switch v {
	case serveLater:
		s.delayed.Add(1)
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	case refuse:
		s.refused.Add(1)
		s.misbehave(from, s.cfg.Budget.OverBudgetScore, errOverBudget.Error())
		return fmt.Errorf("%w (tokens back in %s)", errOverBudget, wait.Round(time.Millisecond))
	}
	return nil
}

// handleRequest answers one request; it is the protocol's logic, free of
// streams, so tests call it directly.
func (s *Service) handleRequest(ctx context.Context, from peer.ID, req *message) (*message, error) {
	switch req.Type {
	case msgGetHeaders:
		return &message{Type: msgHeaders, Headers: s.chain.HeadersAfter(req.Hashes, MaxHeaders)}, nil
	case msgGetBlocks:
		resp := &message{Type: msgBlocks}
		size := 0
		for _, h := range req.Hashes {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var enc []byte
			if info, err := s.chain.BlockByHash(h); err == nil {
				enc = info.Block.Encode()
			}
			if size > 0 && size+len(enc) > maxBlocksResponse {
				break // the requester asks again for the rest
			}
			size += len(enc)
			resp.Blocks = append(resp.Blocks, enc)
			if enc != nil {
				s.served.Add(1)
			}
		}
		return resp, nil
	default:
		s.misbehave(from, scoreUnconnected, "a "+req.Type.String()+" message as a request")
		return nil, fmt.Errorf("%w: %s is not a request", errMalformed, req.Type)
	}
}

// request sends one request to p on a new stream and reads the response,
// with a deadline and a size limit checked before allocating.
func (s *Service) request(ctx context.Context, p peer.ID, req *message) (*message, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	// Sync talks to connected peers only; it never dials (a peer cut off
	// by a partition or a ban stays cut off).
	str, err := s.h.NewStream(network.WithNoDial(ctx, "chain sync"), p, ChainProtocol)
	if err != nil {
		return nil, fmt.Errorf("open %s stream to %s: %w", ChainProtocol, p, err)
	}
	// A transport without deadlines still ends at the context's.
	stop := context.AfterFunc(ctx, func() { str.Reset() })
	defer stop()
	resp, err := s.exchange(ctx, str, req)
	if err != nil {
		str.Reset()
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%w)", err, cerr)
		}
		return nil, fmt.Errorf("%s request to %s: %w", req.Type, p, err)
	}
	str.Close()
	return resp, nil
}

func (s *Service) exchange(ctx context.Context, str network.Stream, req *message) (*message, error) {
	if err := str.Scope().SetService(ServiceName); err != nil {
		return nil, fmt.Errorf("attach to resource scope: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		if err := str.SetDeadline(dl); err != nil {
			return nil, err
		}
	}
	if err := writeFrame(str, req); err != nil {
		return nil, err
	}
	if err := str.CloseWrite(); err != nil {
		return nil, err
	}
	maxSize := maxMessageSize(s.p.MaxBlockSize)
	n, err := readFrameLen(str, maxSize)
	if err != nil {
		return nil, err
	}
	if err := str.Scope().ReserveMemory(n, network.ReservationPriorityHigh); err != nil {
		return nil, fmt.Errorf("reserve response memory: %w", err)
	}
	defer str.Scope().ReleaseMemory(n)
	buf := make([]byte, n)
	if _, err := io.ReadFull(str, buf); err != nil {
		return nil, err
	}
	resp, err := decodeMessage(buf, maxSize)
	if err != nil {
		return nil, err
	}
	want := msgHeaders
	if req.Type == msgGetBlocks {
		want = msgBlocks
	}
	if resp.Type != want {
		return nil, fmt.Errorf("%w: %s in answer to %s", errMalformed, resp.Type, req.Type)
	}
	return resp, nil
}
