package miner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	"github.com/myco-p2p/myco/ledger"
)

// midstateHasher hashes one header with varying nonces. The header's first
// 64 bytes fill exactly one SHA-256 block whose compressed state (the
// midstate) is computed once; crypto/sha256 exposes it through its
// encoding.BinaryMarshaler state, which is restored per nonce. Each nonce
// then costs two compressions (the second header block, then the outer
// hash of 32 bytes) instead of three.
type midstateHasher struct {
	state []byte
	d     hash.Hash
	um    encoding.BinaryUnmarshaler
	tail  [ledger.HeaderSize - 64]byte
	first [sha256.Size]byte
}

func newMidstateHasher(hdr *[ledger.HeaderSize]byte) (*midstateHasher, error) {
	d := sha256.New()
	d.Write(hdr[:64])
	m, ok := d.(encoding.BinaryMarshaler)
	um, ok2 := d.(encoding.BinaryUnmarshaler)
	if !ok || !ok2 {
		return nil, errors.New("sha256 digest cannot save its state")
	}
	state, err := m.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("save sha256 midstate: %w", err)
	}
	h := &midstateHasher{state: state, d: d, um: um}
	copy(h.tail[:], hdr[64:])
	return h, nil
}

// hash returns the block hash of the header with the given nonce.
func (h *midstateHasher) hash(nonce uint64) ledger.Hash {
	if err := h.um.UnmarshalBinary(h.state); err != nil {
		panic(fmt.Sprintf("miner: restore sha256 midstate: %v", err)) // our own bytes
	}
	binary.LittleEndian.PutUint64(h.tail[ledger.NonceOffset-64:], nonce)
	h.d.Write(h.tail[:])
	h.d.Sum(h.first[:0])
	return sha256.Sum256(h.first[:])
}

// targetBytes returns target as 32 big-endian bytes, for comparing hashes
// without big.Int.
func targetBytes(target *big.Int) [ledger.HashSize]byte {
	var t [ledger.HashSize]byte
	target.FillBytes(t[:])
	return t
}

// Solve searches nonces start, start+step, … for one that meets the
// header's target, giving up when ctx is done or after maxTries tries
// (0 = no limit). It adds the number of hashes tried to *hashes as it goes
// and returns whether it found one; the nonce is then in hdr.
func Solve(ctx context.Context, hdr *ledger.Header, p *ledger.Params, start, step, maxTries uint64, hashes *atomic.Uint64) (bool, error) {
	target, err := ledger.TargetFromBits(hdr.Bits, p)
	if err != nil {
		return false, err
	}
	tb := targetBytes(target)
	enc := hdr.Encode()
	mh, err := newMidstateHasher(&enc)
	if err != nil {
		return false, err
	}
	const batch = 1 << 12
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	nonce := start
	for tried := uint64(0); maxTries == 0 || tried < maxTries; {
		n := uint64(batch)
		if maxTries != 0 && maxTries-tried < n {
			n = maxTries - tried
		}
		for i := uint64(0); i < n; i++ {
			h := mh.hash(nonce)
			if bytes.Compare(h[:], tb[:]) <= 0 {
				hdr.Nonce = nonce
				if hashes != nil {
					hashes.Add(i + 1)
				}
				return true, nil
			}
			nonce += step
		}
		tried += n
		if hashes != nil {
			hashes.Add(n)
		}
		select {
		case <-done:
			return false, ctx.Err()
		default:
		}
	}
	return false, nil
}

// Config configures a Miner.
type Config struct {
	// Chain supplies templates and takes the mined blocks (required).
	Chain *ledger.Chain
	// Address receives the coinbase.
	Address ledger.Address
	// Now is the clock for block timestamps and the hash rate (required:
	// the node passes time.Now, tests a fake).
	Now func() time.Time
	// Logger receives the miner's logs; nil discards them.
	Logger *slog.Logger
	// OnBlock, if set, is called (from the miner's goroutine) with every
	// block the miner found and what the chain did with it; the node
	// announces accepted ones to its peers.
	OnBlock func(*ledger.Block, ledger.ProcessResult, error)
	// Refresh is how often a new template picks up new transactions and a
	// fresh timestamp (default 2 s). A new tip restarts at once regardless.
	Refresh time.Duration
}

// Status is what `myco mine status` shows.
type Status struct {
	Mining  bool
	Threads int
	// HashRate is in hashes per second over the last few seconds.
	HashRate float64
	Hashes   uint64
	Blocks   uint64
}

// Miner mines blocks on N goroutines. It owns them: Start launches them
// with a context, Stop cancels it and waits for every one to end.
type Miner struct {
	cfg    Config
	log    *slog.Logger
	hashes atomic.Uint64
	blocks atomic.Uint64

	mu      sync.Mutex
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	threads int
	// Two hash-rate samples: the rate is measured between a and now.
	sampleA, sampleB rateSample
}

type rateSample struct {
	t time.Time
	h uint64
}

// New returns a stopped miner.
func New(cfg Config) (*Miner, error) {
	if cfg.Chain == nil || cfg.Now == nil {
		return nil, errors.New("new miner: Chain and Now are required")
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 2 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Miner{cfg: cfg, log: log}, nil
}

// Start mines on threads goroutines (restarting with the new count if it
// was already mining).
func (m *Miner) Start(threads int) error {
	if threads <= 0 {
		return fmt.Errorf("start miner: %d threads, want at least 1", threads)
	}
	m.Stop()
	m.mu.Lock()
	defer m.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.threads = threads
	now := m.cfg.Now()
	m.sampleA = rateSample{now, m.hashes.Load()}
	m.sampleB = m.sampleA
	m.wg.Go(func() { m.run(ctx, threads) })
	m.log.Info("miner started", "threads", threads, "address", m.cfg.Address.Encode(m.cfg.Chain.Params()))
	return nil
}

// Stop stops mining and waits for the goroutines to end.
func (m *Miner) Stop() {
	m.mu.Lock()
	cancel := m.cancel
	m.cancel = nil
	m.threads = 0
	m.mu.Unlock()
	if cancel != nil {
		cancel()
		m.wg.Wait()
		m.log.Info("miner stopped")
	}
}

// Status reports whether the miner runs, its threads and hash rate.
func (m *Miner) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Now()
	h := m.hashes.Load()
	if now.Sub(m.sampleB.t) >= 2*time.Second {
		m.sampleA, m.sampleB = m.sampleB, rateSample{now, h}
	}
	st := Status{Mining: m.cancel != nil, Threads: m.threads, Hashes: h, Blocks: m.blocks.Load()}
	if el := now.Sub(m.sampleA.t).Seconds(); st.Mining && el > 0 {
		st.HashRate = float64(h-m.sampleA.h) / el
	}
	return st
}

func (m *Miner) run(ctx context.Context, threads int) {
	tips, unsubscribe := m.cfg.Chain.SubscribeTip()
	defer unsubscribe()
	refresh := time.NewTicker(m.cfg.Refresh)
	defer refresh.Stop()
	for ctx.Err() == nil {
		tmpl, err := m.cfg.Chain.BlockTemplate(m.cfg.Address, m.cfg.Now())
		if err != nil {
			m.log.Error("block template", "err", err)
			return
		}
		round, cancel := context.WithCancel(ctx)
		found := make(chan *ledger.Block, threads)
		var wg sync.WaitGroup
		for i := range threads {
			wg.Go(func() {
				blk := &ledger.Block{Header: tmpl.Header, Txs: tmpl.Txs}
				ok, _ := Solve(round, &blk.Header, m.cfg.Chain.Params(), uint64(i), uint64(threads), 0, &m.hashes)
				if ok {
					found <- blk // buffered for every worker: never blocks
				}
			})
		}
		var solved *ledger.Block
		select {
		case <-ctx.Done():
		case <-tips: // a new tip: this template is stale
		case <-refresh.C:
		case solved = <-found:
		}
		cancel()
		wg.Wait()
		if solved != nil {
			res, err := m.cfg.Chain.ProcessBlock(solved, m.cfg.Now())
			if err == nil && res.Status == ledger.StatusMainChain {
				m.blocks.Add(1)
				m.log.Info("mined block", "height", solved.Header.Height, "hash", res.Hash, "txs", len(solved.Txs))
			} else {
				m.log.Warn("mined block not accepted", "hash", res.Hash, "status", res.Status, "err", err)
			}
			if m.cfg.OnBlock != nil {
				m.cfg.OnBlock(solved, res, err)
			}
		}
	}
}
