package dht

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/myco-p2p/myco/internal/attack"
)

func provKey(key, peer int) ds.Key {
	return ds.RawKey(fmt.Sprintf("/providers/K%04d/P%d", key, peer))
}

func countProviders(t *testing.T, d ds.Datastore) int {
	t.Helper()
	res, err := d.Query(context.Background(), dsq.Query{Prefix: "/providers/", KeysOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	all, err := res.Rest()
	if err != nil {
		t.Fatal(err)
	}
	return len(all)
}

// The index bounds records per peer (the peer's oldest goes) and in total
// (the least recently written goes), matches the disk after every batch,
// and is rebuilt, trimmed to smaller caps, from the disk.
func TestBoundedProviders(t *testing.T) {
	ctx := context.Background()
	mem := dssync.MutexWrap(ds.NewMapDatastore())
	b, err := newBoundedProviders(ctx, mem, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	put := func(key, peer int) {
		t.Helper()
		if err := b.Put(ctx, provKey(key, peer), []byte{byte(key)}); err != nil {
			t.Fatal(err)
		}
	}
	for k := range 4 { // peer 1 writes 4: its first goes
		put(k, 1)
	}
	if ok, _ := mem.Has(ctx, provKey(0, 1)); ok || countProviders(t, mem) != 3 {
		t.Fatalf("after 4 records of one peer: %d on disk, first kept %v", countProviders(t, mem), ok)
	}
	put(1, 1) // a refresh: record 1 becomes peer 1's newest
	put(10, 2)
	put(11, 2)
	put(12, 3) // 6 records for a cap of 5: the least recently written, peer 1's record 2, goes
	if ok, _ := mem.Has(ctx, provKey(2, 1)); ok {
		t.Fatal("the least recently written record survived the total cap")
	}
	st := b.stats()
	if st.Records != 5 || countProviders(t, mem) != 5 || st.Peers != 3 || st.Evicted != 2 || st.LargestPeer != 2 {
		t.Fatalf("stats %+v, %d on disk", st, countProviders(t, mem))
	}
	// Deletes in a batch (the library's expiry sweep) leave the index.
	batch, _ := b.Batch(ctx)
	batch.Delete(ctx, provKey(12, 3))
	batch.Put(ctx, ds.NewKey("/other/value"), []byte("x")) // not a provider record: not counted
	if err := batch.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, provKey(10, 2)); err != nil {
		t.Fatal(err)
	}
	if st := b.stats(); st.Records != 3 || countProviders(t, mem) != 3 || st.Peers != 2 {
		t.Fatalf("after deletes: %+v, %d on disk", st, countProviders(t, mem))
	}
	// Reopened with smaller caps, the disk is trimmed oldest first.
	b2, err := newBoundedProviders(ctx, mem, 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	if st := b2.stats(); st.Records != 2 || countProviders(t, mem) != 2 {
		t.Fatalf("reopened with 1 per peer: %+v, %d on disk", st, countProviders(t, mem))
	}
}

// One peer flooding ADD_PROVIDER over the real protocol, within its write
// budget, fills only its own share of the store.
func TestProviderFloodCapped(t *testing.T) {
	const perPeer, total, flood = 300, 1000, 2000
	tn := newTestNet(t, 1, func(_ int, c *Config) {
		c.MaxProviderRecordsPerPeer, c.MaxProviderRecords = perPeer, total
		c.WritesPerSecond, c.WriteBurst = 1e9, 1e9
	})
	attacker, err := tn.mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	victim := tn.hosts[0].ID()
	if _, err := tn.mn.LinkPeers(attacker.ID(), victim); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.mn.ConnectPeers(attacker.ID(), victim); err != nil {
		t.Fatal(err)
	}
	res := attack.FloodProviders(t.Context(), attacker, victim, flood, 1, nil)
	if res.Err != nil || res.Sent != flood {
		t.Fatalf("flood: %+v", res)
	}
	d := tn.nodes[0]
	// The records reach the store in batches of 256; the cap holds at
	// every step, and the flood's 2000 fill it.
	waitFor(t, 30*time.Second, func() bool {
		st := d.ProviderStore()
		if st.Records > perPeer {
			t.Fatalf("store over the per-peer cap: %+v", st)
		}
		return st.Records == perPeer
	}, func() string { return fmt.Sprintf("store %+v", d.ProviderStore()) })
	if st := d.ProviderStore(); st.Peers != 1 || st.Evicted == 0 {
		t.Fatalf("store %+v: want one peer, evictions", st)
	}
}

// Past its write budget a peer's writes are refused: nothing more is
// stored, its stream is reset and OnWriteRefused names it.
func TestProviderWritesOverBudgetRefused(t *testing.T) {
	const burst = 50
	var refused atomic.Int64
	var who atomic.Value
	now := time.Unix(1_000_000, 0) // stands still: the bucket never refills
	tn := newTestNet(t, 1, func(_ int, c *Config) {
		c.WritesPerSecond, c.WriteBurst, c.WriteMaxDelay = 1, burst, time.Millisecond
		c.Now = func() time.Time { return now }
		c.OnWriteRefused = func(p peer.ID) { refused.Add(1); who.Store(p) }
	})
	attacker, err := tn.mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	victim := tn.hosts[0].ID()
	tn.mn.LinkPeers(attacker.ID(), victim)
	if _, err := tn.mn.ConnectPeers(attacker.ID(), victim); err != nil {
		t.Fatal(err)
	}
	attack.FloodProviders(t.Context(), attacker, victim, 2000, 1, nil)
	waitFor(t, 30*time.Second, func() bool { return refused.Load() > 0 }, func() string { return "no write refused" })
	if who.Load().(peer.ID) != attacker.ID() {
		t.Fatalf("refused %v, want the attacker", who.Load())
	}
	st, err := tn.nodes[0].Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// At most the burst was accepted (some may still wait in the
	// library's write buffer).
	if st.ProviderStore.Records > burst || st.WritesRefused == 0 {
		t.Fatalf("stats %+v", st)
	}
}
