package dht

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"

	"github.com/myco-p2p/myco/chunker"
)

func TestUndefinedCIDRejected(t *testing.T) {
	tn := newTestNet(t, 1, nil)
	d, ctx := tn.nodes[0], t.Context()
	if err := d.Provide(ctx, cid.Undef); !errors.Is(err, ErrMalformedCID) {
		t.Errorf("Provide(undef) = %v", err)
	}
	if _, err := d.Unprovide(ctx, cid.Undef); !errors.Is(err, ErrMalformedCID) {
		t.Errorf("Unprovide(undef) = %v", err)
	}
	if _, err := d.FindProviders(ctx, cid.Undef, FindOptions{}); !errors.Is(err, ErrMalformedCID) {
		t.Errorf("FindProviders(undef) = %v", err)
	}
	if roots, err := d.Provided(ctx); err != nil || len(roots) != 0 {
		t.Errorf("provide set after rejected calls = %v, %v", roots, err)
	}
}

func TestBadConfig(t *testing.T) {
	tn := newTestNet(t, 1, nil)
	for name, c := range map[string]Config{
		"reprovide beyond half the validity": {ProvideValidity: time.Hour, ReprovideInterval: 40 * time.Minute},
		"negative timeout":                   {ProvideTimeout: -time.Second},
		"bootstrap peer without id":          {BootstrapPeers: []peer.AddrInfo{{}}},
	} {
		if d, err := New(tn.hosts[0], c); !errors.Is(err, ErrBadConfig) {
			if d != nil {
				_ = d.Close()
			}
			t.Errorf("%s: New = %v, want ErrBadConfig", name, err)
		}
	}
	if _, err := New(nil, Config{}); !errors.Is(err, ErrBadConfig) {
		t.Errorf("New(nil host) = %v", err)
	}
}

// An unreachable bootstrap peer is named in the error and the node keeps
// working with the reachable one; with none reachable, Bootstrap fails
// clearly and the node stays up.
func TestBootstrapUnreachable(t *testing.T) {
	tn := newTestNet(t, 3, nil)
	ctx := t.Context()
	sk, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ghostID, err := peer.IDFromPrivateKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	ghost := peer.AddrInfo{ID: ghostID, Addrs: []multiaddr.Multiaddr{multiaddr.StringCast("/ip4/127.0.0.1/tcp/1")}}
	live := peer.AddrInfo{ID: tn.hosts[0].ID(), Addrs: tn.hosts[0].Addrs()}

	h, err := tn.mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	bootCfg := Config{ForceServer: true, Logger: testLogger(t), BootstrapTimeout: 2 * time.Second}

	// Only the ghost: a clear error, and the node still answers calls.
	cfg := bootCfg
	cfg.BootstrapPeers = []peer.AddrInfo{ghost}
	lonely, err := New(h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = lonely.Bootstrap(ctx)
	if !errors.Is(err, ErrBootstrapUnreachable) || !strings.Contains(err.Error(), ghostID.String()) {
		t.Fatalf("Bootstrap with only an unreachable peer = %v", err)
	}
	if st, err := lonely.Stats(ctx); err != nil || st.RoutingTableSize != 0 {
		t.Fatalf("stats of the lonely node = %+v, %v", st, err)
	}
	if err := lonely.Close(); err != nil {
		t.Fatal(err)
	}

	// The ghost and a live peer: the error names the ghost, the table fills.
	cfg.BootstrapPeers = []peer.AddrInfo{ghost, live}
	d, err := New(h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.Close() }()
	err = d.Bootstrap(ctx)
	if !errors.Is(err, ErrBootstrapUnreachable) || !strings.Contains(err.Error(), ghostID.String()) {
		t.Fatalf("Bootstrap = %v, want the ghost named", err)
	}
	if len(d.Peers()) != 3 {
		t.Errorf("routing table after bootstrap: %v, want the 3 live peers", d.Peers())
	}

	// No bootstrap peers configured at all.
	if err := tn.nodes[0].Bootstrap(ctx); !errors.Is(err, ErrNoBootstrapPeers) {
		t.Errorf("Bootstrap with none configured = %v", err)
	}
}

// A corrupt entry in the provide set is reported and skipped; the good
// roots are still listed and reprovided.
func TestProvideSetCorruptEntry(t *testing.T) {
	tn := newTestNet(t, 1, nil)
	d, ctx := tn.nodes[0], t.Context()
	good := rootCID(t, "good")
	if err := d.set.Add(ctx, good); err != nil {
		t.Fatal(err)
	}
	other := rootCID(t, "other")
	bad := map[string][]byte{
		"/garbage":                  []byte("not a cid"),
		"/" + other.String():        good.Bytes(), // key and value disagree
		"/empty":                    nil,
		"/" + good.String() + "/x2": append(good.Bytes(), 0),
	}
	for k, v := range bad {
		if err := d.store.Put(ctx, provideSetPrefix.Child(ds.NewKey(k)), v); err != nil {
			t.Fatal(err)
		}
	}
	roots, err := d.Provided(ctx)
	if !errors.Is(err, ErrMalformedCID) {
		t.Errorf("Provided error = %v, want ErrMalformedCID", err)
	}
	if len(roots) != 1 || !roots[0].Equals(good) {
		t.Errorf("Provided = %v, want [%s]", roots, good)
	}
}

func FuzzParseCID(f *testing.F) {
	f.Add("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
	f.Add("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
	f.Add("")
	f.Add("zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA")
	f.Add("f01551220")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := chunker.ParseCID(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedCID) {
				t.Fatalf("ParseCID(%q) error %v is not ErrMalformedCID", s, err)
			}
			return
		}
		if !c.Defined() {
			t.Fatalf("ParseCID(%q) accepted an undefined CID", s)
		}
		// What parses must round-trip through the stored form.
		back, err := decodeCIDBytes(c.Bytes())
		if err != nil || !back.Equals(c) {
			t.Fatalf("stored form of %s does not decode: %v", c, err)
		}
	})
}

func FuzzDecodeProvideEntry(f *testing.F) {
	c := cid.NewCidV1(cid.Raw, mustHash("seed"))
	f.Add(provideKey(c).String(), c.Bytes())
	f.Add("/x", []byte{0x01, 0x55})
	f.Add("/", []byte{})
	f.Add("/y", append(c.Bytes(), 1, 2, 3))
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		got, err := decodeProvideEntry(key, value)
		if err != nil {
			if !errors.Is(err, ErrMalformedCID) {
				t.Fatalf("error %v is not ErrMalformedCID", err)
			}
			return
		}
		if provideKey(got).String() != key || string(got.Bytes()) != string(value) {
			t.Fatalf("accepted entry %q=%x as %s", key, value, got)
		}
	})
}

// After Close every call fails with ErrClosed, and a lookup running when
// Close is called ends (its channel closes) instead of outliving the DHT.
func TestClose(t *testing.T) {
	tn := newTestNet(t, 4, nil)
	ctx := t.Context()
	d := tn.nodes[3]
	root := rootCID(t, "closing")
	ch, err := d.FindProviders(ctx, root, FindOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	for range ch {
	}
	if err := d.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if err := d.Provide(ctx, root); !errors.Is(err, ErrClosed) {
		t.Errorf("Provide after Close = %v", err)
	}
	if _, err := d.FindProviders(ctx, root, FindOptions{}); !errors.Is(err, ErrClosed) {
		t.Errorf("FindProviders after Close = %v", err)
	}
	if _, err := d.Stats(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Stats after Close = %v", err)
	}
	if err := d.Bootstrap(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Bootstrap after Close = %v", err)
	}
}

// A root that cannot be announced (no peers yet) is still remembered and
// stays pending; a reprovide reports each failure by root and keeps them
// pending until an announcement succeeds.
func TestProvideWithoutPeersStaysPending(t *testing.T) {
	tn := newTestNet(t, 1, func(_ int, c *Config) { c.ProvideTimeout = 2 * time.Second })
	d, ctx := tn.nodes[0], t.Context()
	a, b := rootCID(t, "a"), rootCID(t, "b")
	for _, c := range []cid.Cid{a, b} {
		if err := d.Provide(ctx, c); err == nil {
			t.Fatalf("Provide(%s) with no peers succeeded", c)
		}
	}
	rep, err := d.Reprovide(ctx)
	if err == nil || !strings.Contains(err.Error(), a.String()) || !strings.Contains(err.Error(), b.String()) {
		t.Errorf("Reprovide error = %v, want both roots named", err)
	}
	if rep.Roots != 2 || rep.Failed != 2 || rep.Announced != 0 {
		t.Errorf("report = %+v", rep)
	}
	st, err := d.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Roots != 2 || st.ProvidesPending != 2 || st.LastError == "" {
		t.Errorf("stats = %+v, want 2 roots pending with the error", st)
	}
	if _, err := d.Unprovide(ctx, a); err != nil {
		t.Fatal(err)
	}
	if st, _ := d.Stats(ctx); st.Roots != 1 || st.ProvidesPending != 1 {
		t.Errorf("stats after unprovide = %+v", st)
	}
}
