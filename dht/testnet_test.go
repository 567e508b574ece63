package dht

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"github.com/multiformats/go-multihash"
)

// testNet is an in-process network of DHT nodes on mocknet: no sockets, every
// node linked to every other, each bootstrapped only to node 0.
type testNet struct {
	mn    mocknet.Mocknet
	hosts []host.Host
	nodes []*DHT
}

// testLogger routes a subsystem's warnings to t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newTestNet starts n nodes. cfg, when not nil, adjusts node i's config.
// Nodes are bootstrapped to node 0, a few at a time, in order of creation,
// as daemons joining a network would be.
func newTestNet(t testing.TB, n int, cfg func(i int, c *Config)) *testNet {
	t.Helper()
	tn := &testNet{mn: mocknet.New()}
	t.Cleanup(tn.close)
	for range n {
		h, err := tn.mn.GenPeer()
		if err != nil {
			t.Fatalf("generate peer: %v", err)
		}
		tn.hosts = append(tn.hosts, h)
	}
	if err := tn.mn.LinkAll(); err != nil {
		t.Fatalf("link peers: %v", err)
	}
	boot := peer.AddrInfo{ID: tn.hosts[0].ID(), Addrs: tn.hosts[0].Addrs()}
	for i, h := range tn.hosts {
		c := Config{ForceServer: true, Logger: testLogger(t)}
		if i > 0 {
			c.BootstrapPeers = []peer.AddrInfo{boot}
		}
		if cfg != nil {
			cfg(i, &c)
		}
		d, err := New(h, c)
		if err != nil {
			t.Fatalf("start node %d: %v", i, err)
		}
		tn.nodes = append(tn.nodes, d)
	}
	ctx := t.Context()
	tn.parallel(t, 4, func(i int, d *DHT) error {
		if i == 0 {
			return nil
		}
		return d.Bootstrap(ctx)
	})
	return tn
}

// parallel runs f for every node, at most width at a time, and fails the
// test on any error.
func (tn *testNet) parallel(t testing.TB, width int, f func(i int, d *DHT) error) {
	t.Helper()
	sem := make(chan struct{}, width)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []string
	)
	for i, d := range tn.nodes {
		if d == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(i, d); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("node %d: %v", i, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d nodes failed:\n%s", len(errs), strings.Join(errs, "\n"))
	}
}

// stop closes node i's DHT and host, as a daemon that goes offline.
func (tn *testNet) stop(t testing.TB, i int) {
	t.Helper()
	if err := tn.nodes[i].Close(); err != nil {
		t.Errorf("close node %d: %v", i, err)
	}
	tn.nodes[i] = nil
	if err := tn.hosts[i].Close(); err != nil {
		t.Errorf("close host %d: %v", i, err)
	}
}

func (tn *testNet) close() {
	for _, d := range tn.nodes {
		if d != nil {
			_ = d.Close()
		}
	}
	_ = tn.mn.Close()
}

// idealTableSize is the largest routing table node i could hold given every
// other live node: for each common-prefix length, at most a bucket's worth.
func (tn *testNet) idealTableSize(i int) int {
	self := kb.ConvertPeerID(tn.hosts[i].ID())
	perCpl := map[int]int{}
	for j, h := range tn.hosts {
		if j == i || tn.nodes[j] == nil {
			continue
		}
		perCpl[kb.CommonPrefixLen(self, kb.ConvertPeerID(h.ID()))]++
	}
	total := 0
	for _, n := range perCpl {
		total += min(n, bucketSize)
	}
	return total
}

// bucketSize is the library's default k, which myco keeps.
const bucketSize = 20

// rootCID makes a CIDv1 raw-leaf root for a name, as the chunker would for a
// one-chunk file.
func rootCID(t testing.TB, name string) cid.Cid {
	t.Helper()
	return cid.NewCidV1(cid.Raw, mustHash(name))
}

// mustHash is the sha2-256 multihash of s.
func mustHash(s string) multihash.Multihash {
	sum := sha256.Sum256([]byte(s))
	mh, err := multihash.Encode(sum[:], multihash.SHA2_256)
	if err != nil {
		panic(err)
	}
	return mh
}

// collect reads a FindProviders channel to its end.
func collect(ch <-chan peer.AddrInfo) []peer.ID {
	var ids []peer.ID
	for ai := range ch {
		ids = append(ids, ai.ID)
	}
	return ids
}

func findAll(ctx context.Context, d *DHT, c cid.Cid, opt FindOptions) ([]peer.ID, error) {
	ch, err := d.FindProviders(ctx, c, opt)
	if err != nil {
		return nil, err
	}
	return collect(ch), nil
}

// waitFor waits until cond holds, looking every 20ms, and fails the test
// with what() after timeout. Only for state the code under test announces
// by no event.
func waitFor(t testing.TB, timeout time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.After(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("after %v: %s", timeout, what())
		case <-tick.C:
		}
	}
}
