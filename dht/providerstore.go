package dht

import (
	"container/list"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"

	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p-kad-dht/records"
)

// boundedProviders is the datastore under the library's provider manager:
// it passes everything through to the node's leveldb but keeps an index of
// the provider records (keys /providers/<key>/<peer>) and bounds them, per
// providing peer and in total. A write past a peer's cap evicts that peer's
// least recently written record; a write past the total cap evicts the
// least recently written record of anyone. The evictions go in the same
// batch as the write. Deletes (the library's expiry sweep, expired records
// dropped on read) leave the index too, so it always matches the disk.
type boundedProviders struct {
	ds.Batching
	perPeer, total int

	mu      sync.Mutex
	recs    map[string]*providerRec // by datastore key
	lru     *list.List              // of *providerRec, least recently written first
	byPeer  map[string]*list.List   // peer segment -> its records, oldest first
	evicted uint64
}

type providerRec struct {
	key, peer string
	all, own  *list.Element
}

// newBoundedProviders indexes the provider records already in d (oldest
// write first, by the time each record holds) and trims them to the caps.
func newBoundedProviders(ctx context.Context, d ds.Batching, perPeer, total int) (*boundedProviders, error) {
	b := &boundedProviders{
		Batching: d, perPeer: perPeer, total: total,
		recs: make(map[string]*providerRec), lru: list.New(), byPeer: make(map[string]*list.List),
	}
	res, err := d.Query(ctx, dsq.Query{Prefix: records.ProvidersKeyPrefix})
	if err != nil {
		return nil, fmt.Errorf("index provider records: %w", err)
	}
	type stamped struct {
		key string
		at  int64
	}
	var all []stamped
	for e := range res.Next() {
		if e.Error != nil {
			res.Close()
			return nil, fmt.Errorf("index provider records: %w", e.Error)
		}
		at, _ := binary.Varint(e.Value)
		all = append(all, stamped{e.Key, at})
	}
	res.Close()
	slices.SortFunc(all, func(x, y stamped) int { return int(min(max(x.at-y.at, -1), 1)) })
	batch, err := d.Batch(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range all {
		for _, k := range b.addLocked(s.key) {
			if err := batch.Delete(ctx, ds.RawKey(k)); err != nil {
				return nil, err
			}
		}
	}
	if err := batch.Commit(ctx); err != nil {
		return nil, fmt.Errorf("trim provider records: %w", err)
	}
	return b, nil
}

// providerPeer returns the peer segment of a provider record's key, or ""
// for a key that is not a provider record.
func providerPeer(key string) string {
	rest, ok := strings.CutPrefix(key, records.ProvidersKeyPrefix)
	if !ok {
		return ""
	}
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 || i == len(rest)-1 {
		return ""
	}
	return rest[i+1:]
}

// addLocked records a write of key and returns the keys it evicts.
func (b *boundedProviders) addLocked(key string) []string {
	p := providerPeer(key)
	if p == "" {
		return nil
	}
	if r := b.recs[key]; r != nil { // a refresh: most recent again
		b.lru.MoveToBack(r.all)
		b.byPeer[r.peer].MoveToBack(r.own)
		return nil
	}
	var evict []string
	own := b.byPeer[p]
	if own == nil {
		own = list.New()
		b.byPeer[p] = own
	}
	if own.Len() >= b.perPeer {
		evict = append(evict, b.removeLocked(own.Front().Value.(*providerRec).key))
	}
	if len(b.recs) >= b.total {
		evict = append(evict, b.removeLocked(b.lru.Front().Value.(*providerRec).key))
		if b.byPeer[p] == nil { // the peer's last record went
			own = list.New()
			b.byPeer[p] = own
		}
	}
	r := &providerRec{key: key, peer: p}
	r.all = b.lru.PushBack(r)
	r.own = own.PushBack(r)
	b.recs[key] = r
	b.evicted += uint64(len(evict))
	return evict
}

// removeLocked forgets key (if indexed) and returns it.
func (b *boundedProviders) removeLocked(key string) string {
	r := b.recs[key]
	if r == nil {
		return key
	}
	delete(b.recs, key)
	b.lru.Remove(r.all)
	own := b.byPeer[r.peer]
	own.Remove(r.own)
	if own.Len() == 0 {
		delete(b.byPeer, r.peer)
	}
	return key
}

// ProviderStoreStats describes the provider records this node stores for
// others.
type ProviderStoreStats struct {
	Records     int    `json:"provider_records"`
	Peers       int    `json:"provider_peers"`
	MaxRecords  int    `json:"provider_records_max"`
	MaxPerPeer  int    `json:"provider_records_max_per_peer"`
	Evicted     uint64 `json:"provider_records_evicted"`
	LargestPeer int    `json:"provider_records_largest_peer"`
}

func (b *boundedProviders) stats() ProviderStoreStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := ProviderStoreStats{Records: len(b.recs), Peers: len(b.byPeer), MaxRecords: b.total, MaxPerPeer: b.perPeer, Evicted: b.evicted}
	for _, l := range b.byPeer {
		st.LargestPeer = max(st.LargestPeer, l.Len())
	}
	return st
}

// Put writes one record, with its evictions in one batch.
func (b *boundedProviders) Put(ctx context.Context, key ds.Key, value []byte) error {
	batch, err := b.Batch(ctx)
	if err != nil {
		return err
	}
	if err := batch.Put(ctx, key, value); err != nil {
		return err
	}
	return batch.Commit(ctx)
}

// Delete removes one record from the disk and the index.
func (b *boundedProviders) Delete(ctx context.Context, key ds.Key) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.Batching.Delete(ctx, key); err != nil {
		return err
	}
	b.removeLocked(key.String())
	return nil
}

// Close leaves the underlying datastore open: the DHT closes it.
func (b *boundedProviders) Close() error { return nil }

// Batch returns a batch whose writes are indexed (and bounded) when it
// commits.
func (b *boundedProviders) Batch(context.Context) (ds.Batch, error) {
	return &boundedBatch{b: b}, nil
}

type batchOp struct {
	key    ds.Key
	value  []byte
	delete bool
}

type boundedBatch struct {
	b   *boundedProviders
	ops []batchOp
}

func (bb *boundedBatch) Put(_ context.Context, key ds.Key, value []byte) error {
	bb.ops = append(bb.ops, batchOp{key: key, value: value})
	return nil
}

func (bb *boundedBatch) Delete(_ context.Context, key ds.Key) error {
	bb.ops = append(bb.ops, batchOp{key: key, delete: true})
	return nil
}

// Commit applies the batch and its evictions to the disk in one batch,
// under the index's lock so the index and the disk change together.
func (bb *boundedBatch) Commit(ctx context.Context) error {
	b := bb.b
	b.mu.Lock()
	defer b.mu.Unlock()
	inner, err := b.Batching.Batch(ctx)
	if err != nil {
		return err
	}
	for _, op := range bb.ops {
		key := op.key.String()
		if op.delete {
			b.removeLocked(key)
			if err := inner.Delete(ctx, op.key); err != nil {
				return err
			}
			continue
		}
		if err := inner.Put(ctx, op.key, op.value); err != nil {
			return err
		}
		for _, k := range b.addLocked(key) {
			if err := inner.Delete(ctx, ds.RawKey(k)); err != nil {
				return err
			}
		}
	}
	return inner.Commit(ctx)
}
