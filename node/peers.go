package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// The node remembers whom it was talking to, so a restart does not leave
// a resumed fetch at "0 peer(s)" until someone runs connect: the peers of
// unfinished fetches first, then recently connected peers, at most
// maxRememberedPeers of them, in <repo>/peers.json. The file is written
// every peersSaveEvery and at Close, and its peers are dialled at start.

// PeersFile holds the remembered peers.
const PeersFile = "peers.json"

const (
	maxRememberedPeers = 64
	maxPeerAddrs       = 8
	maxPeersFile       = 1 << 20
	peersSaveEvery     = 2 * time.Minute
	redialParallel     = 8
)

// rememberedPeer is one entry of peers.json.
type rememberedPeer struct {
	ID    string   `json:"id"`
	Addrs []string `json:"addrs"`
	// Fetch marks a peer of an unfinished fetch.
	Fetch bool `json:"fetch,omitempty"`
}

// peersToRemember lists the peers of unfinished fetches, then connected
// peers, each once, without this node, bounded.
func (n *Node) peersToRemember() []rememberedPeer {
	var out []rememberedPeer
	seen := map[peer.ID]bool{n.host.ID(): true}
	add := func(ai peer.AddrInfo, fetch bool) {
		if seen[ai.ID] || len(out) >= maxRememberedPeers {
			return
		}
		if len(ai.Addrs) == 0 {
			ai.Addrs = n.host.Peerstore().Addrs(ai.ID)
		}
		if len(ai.Addrs) == 0 {
			return
		}
		seen[ai.ID] = true
		rp := rememberedPeer{ID: ai.ID.String(), Fetch: fetch}
		for _, a := range ai.Addrs {
			if len(rp.Addrs) == maxPeerAddrs {
				break
			}
			rp.Addrs = append(rp.Addrs, a.String())
		}
		out = append(out, rp)
	}
	for _, ai := range n.swarm.PeerAddrs() {
		add(ai, true)
	}
	for _, p := range n.host.Network().Peers() {
		var addrs []ma.Multiaddr
		for _, c := range n.host.Network().ConnsToPeer(p) {
			if c.Stat().Direction == network.DirOutbound {
				addrs = append(addrs, c.RemoteMultiaddr())
			}
		}
		add(peer.AddrInfo{ID: p, Addrs: addrs}, false)
	}
	return out
}

// savePeers writes peers.json (an empty list is not written over a
// non-empty file: a node stopping while offline keeps what it knew).
func (n *Node) savePeers() error {
	peers := n.peersToRemember()
	if len(peers) == 0 {
		return nil
	}
	b, err := json.MarshalIndent(peers, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(n.repo.File(PeersFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("remember peers: %w", err)
	}
	return nil
}

// loadPeers reads peers.json; a missing or damaged file is no peers.
func loadPeers(path string) ([]peer.AddrInfo, error) {
	b, err := readSmallFile(path, maxPeersFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rps []rememberedPeer
	if err := json.Unmarshal(b, &rps); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var out []peer.AddrInfo
	for _, rp := range rps[:min(len(rps), maxRememberedPeers)] {
		id, err := peer.Decode(rp.ID)
		if err != nil {
			continue
		}
		ai := peer.AddrInfo{ID: id}
		for _, s := range rp.Addrs {
			if a, err := ma.NewMultiaddr(s); err == nil {
				ai.Addrs = append(ai.Addrs, a)
			}
		}
		if len(ai.Addrs) > 0 {
			out = append(out, ai)
		}
	}
	return out, nil
}

// peersChanged asks peersLoop to save the list soon: a fetch found its
// first peers, which a crash (SIGKILL) must not make the node forget.
func (n *Node) peersChanged() {
	select {
	case n.peersKick <- struct{}{}:
	default:
	}
}

// peersLoop dials the remembered peers at start, then saves the list
// every peersSaveEvery and when peersChanged asks, until the node closes
// (Close saves it once more).
func (n *Node) peersLoop() {
	defer n.wg.Done()
	peers, err := loadPeers(n.repo.File(PeersFile))
	if err != nil {
		n.log.Warn("remembered peers unreadable; starting without them", "err", err)
	}
	n.redial(peers)
	t := time.NewTicker(peersSaveEvery)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		case <-n.peersKick:
		}
		if err := n.savePeers(); err != nil {
			n.log.Warn("remember peers", "err", err)
		}
	}
}

// redial connects to peers, a few at a time; the unreachable are skipped.
func (n *Node) redial(peers []peer.AddrInfo) {
	if len(peers) == 0 {
		return
	}
	sem := make(chan struct{}, redialParallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for _, ai := range peers {
		if ai.ID == n.host.ID() {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-n.ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(n.ctx, dialTimeout)
			defer cancel()
			if err := n.host.Connect(ctx, ai); err != nil {
				n.log.Debug("remembered peer unreachable", "peer", ai.ID, "err", err)
				return
			}
			mu.Lock()
			ok++
			mu.Unlock()
		}()
	}
	wg.Wait()
	n.log.Info("redialled remembered peers", "reached", ok, "of", len(peers))
}
