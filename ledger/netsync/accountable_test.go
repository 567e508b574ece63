package netsync

import (
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/myco-p2p/myco/ledger"
)

// serveChain makes h answer the chain protocol: get-headers with
// headers (nil: none), get-blocks with blocks(asked).
func serveChain(h host.Host, headers []ledger.Header, blocks func([]ledger.Hash) [][]byte) {
	h.SetStreamHandler(ChainProtocol, func(str network.Stream) {
		req, err := readFrame(str, maxRequestSize)
		if err != nil {
			str.Reset()
			return
		}
		resp := &message{Type: msgHeaders, Headers: headers}
		if req.Type == msgGetBlocks {
			resp = &message{Type: msgBlocks, Blocks: blocks(req.Hashes)}
			if resp.Blocks == nil {
				return // stall: the stream stays open, unanswered
			}
		}
		writeFrame(str, resp)
		str.Close()
	})
}

// A peer that announces headers and then withholds their bodies, serves
// other bodies, or stalls, is scored and replaced by another peer for
// those bodies: the node reaches the announced tip.
func TestAccountableSync(t *testing.T) {
	const height = 200
	blocks := fixture(t)[:height]
	byHash := make(map[ledger.Hash][]byte)
	var headers []ledger.Header
	for _, b := range blocks {
		byHash[b.Hash()] = b.Encode()
		headers = append(headers, b.Header)
	}
	cases := []struct {
		name   string
		serve  func([]ledger.Hash) [][]byte
		points float64
	}{
		{"withholds", func(asked []ledger.Hash) [][]byte { return make([][]byte, len(asked)) }, scoreWithheld},
		{"mismatches", func(asked []ledger.Hash) [][]byte {
			out := make([][]byte, len(asked))
			for i := range out {
				out[i] = blocks[0].Encode() // not the block asked for, except by chance the first
			}
			if asked[0] == blocks[0].Hash() {
				out[0] = blocks[1].Encode()
			}
			return out
		}, scoreBadResponse},
		{"stalls", func([]ledger.Hash) [][]byte { return nil }, scoreStalled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock(afterFixture(t, height))
			mn, nodes := newNet(t, 1, netOpts{clock: clock, cfg: func(_ int, c *Config) {
				c.RequestTimeout = 500 * time.Millisecond // the stall costs one of these
			}})
			victim := nodes[0]
			liar, err := mn.GenPeer()
			if err != nil {
				t.Fatal(err)
			}
			helper, err := mn.GenPeer()
			if err != nil {
				t.Fatal(err)
			}
			// The liar announces the chain; the helper announces nothing
			// (a sync round with it does nothing) but serves bodies, once
			// the liar has been asked for some.
			asked := make(chan struct{})
			var once sync.Once
			serveChain(liar, headers, func(h []ledger.Hash) [][]byte {
				once.Do(func() { close(asked) })
				return tc.serve(h)
			})
			serveChain(helper, nil, func(h []ledger.Hash) [][]byte {
				select {
				case <-asked:
				case <-time.After(hangGuard):
				}
				out := make([][]byte, len(h))
				for i := range h {
					out[i] = byHash[h[i]]
				}
				return out
			})
			for _, p := range []host.Host{helper, liar} {
				if _, err := mn.LinkPeers(p.ID(), victim.h.ID()); err != nil {
					t.Fatal(err)
				}
				if _, err := mn.ConnectPeers(victim.h.ID(), p.ID()); err != nil {
					t.Fatal(err)
				}
			}
			want := blocks[height-1].Hash()
			waitChains(t, nodes, "the victim synced past the liar", func() bool {
				return victim.chain.Tip().Hash == want
			})
			if got := victim.svc.Misbehaviour()[liar.ID()]; got < tc.points {
				t.Errorf("the liar's score is %v, want at least %v", got, tc.points)
			}
			if got := victim.svc.Misbehaviour()[helper.ID()]; got != 0 {
				t.Errorf("the helper was scored %v", got)
			}
		})
	}
}
