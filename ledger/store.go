package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// ErrNotFound is returned by Store.Get for a missing key.
var ErrNotFound = errors.New("not found")

// Store is the chain's key-value storage. Write applies a batch atomically:
// after a crash either all of a batch is there or none of it. The chain
// keeps every block it connects in one batch, so a crash at any moment
// leaves a consistent chain.
type Store interface {
	// Get returns the value of key or an error wrapping ErrNotFound.
	Get(key []byte) ([]byte, error)
	// Write applies every operation of b atomically and durably.
	Write(b *Batch) error
	// Iterate calls fn for every key with the prefix, in key order; the
	// slices are only valid during the call.
	Iterate(prefix []byte, fn func(key, value []byte) error) error
	// Close releases the store.
	Close() error
}

// Batch is an ordered list of puts and deletes applied by Store.Write.
type Batch struct {
	Ops []BatchOp
}

// BatchOp is one put (Delete false) or delete in a Batch.
type BatchOp struct {
	Key, Value []byte
	Delete     bool
}

// Put adds a put of key to b.
func (b *Batch) Put(key, value []byte) {
	b.Ops = append(b.Ops, BatchOp{Key: key, Value: value})
}

// Del adds a delete of key to b.
func (b *Batch) Del(key []byte) { b.Ops = append(b.Ops, BatchOp{Key: key, Delete: true}) }

// MemStore is an in-memory Store for tests and tools.
type MemStore struct {
	mu     sync.Mutex
	m      map[string][]byte
	closed bool
}

// NewMemStore returns an empty in-memory store.
func NewMemStore() *MemStore { return &MemStore{m: make(map[string][]byte)} }

var errClosed = errors.New("store closed")

// Get implements Store.
func (s *MemStore) Get(key []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	v, ok := s.m[string(key)]
	if !ok {
		return nil, fmt.Errorf("get %x: %w", key, ErrNotFound)
	}
	return bytes.Clone(v), nil
}

// Write implements Store.
func (s *MemStore) Write(b *Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	for _, op := range b.Ops {
		if op.Delete {
			delete(s.m, string(op.Key))
		} else {
			s.m[string(op.Key)] = bytes.Clone(op.Value)
		}
	}
	return nil
}

// Iterate implements Store.
func (s *MemStore) Iterate(prefix []byte, fn func(key, value []byte) error) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosed
	}
	var keys []string
	for k := range s.m {
		if bytes.HasPrefix([]byte(k), prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	vals := make([][]byte, len(keys))
	for i, k := range keys {
		vals[i] = s.m[k]
	}
	s.mu.Unlock()
	for i, k := range keys {
		if err := fn([]byte(k), vals[i]); err != nil {
			return err
		}
	}
	return nil
}

// Close implements Store; a closed MemStore keeps its contents for Reopen.
func (s *MemStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// Reopen returns a store over the same contents, as if the process had
// restarted; tests use it to check crash consistency.
func (s *MemStore) Reopen() *MemStore {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return &MemStore{m: s.m}
}

// LevelStore is a Store on goleveldb.
type LevelStore struct {
	db   *leveldb.DB
	sync bool
}

// LevelOptions tune OpenLevelStore.
type LevelOptions struct {
	// NoSync skips the fsync after each batch: a process crash still
	// loses nothing, a power cut may lose the last blocks (never
	// consistency). Tests and benchmarks use it.
	NoSync bool
}

// OpenLevelStore opens (creating if needed) a leveldb store in dir.
func OpenLevelStore(dir string, o LevelOptions) (*LevelStore, error) {
	// A 1 MiB write buffer (leveldb's default is 4 MiB, allocated up front):
	// headers and blocks arrive a few at a time, and the daemon's memory is
	// budgeted (node/memory.go).
	db, err := leveldb.OpenFile(dir, &opt.Options{WriteBuffer: 1 << 20})
	if err != nil {
		return nil, fmt.Errorf("open chain store %s: %w", dir, err)
	}
	return &LevelStore{db: db, sync: !o.NoSync}, nil
}

// Get implements Store.
func (s *LevelStore) Get(key []byte) ([]byte, error) {
	v, err := s.db.Get(key, nil)
	if errors.Is(err, leveldb.ErrNotFound) {
		return nil, fmt.Errorf("get %x: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %x: %w", key, err)
	}
	return v, nil
}

// Write implements Store with one leveldb batch.
func (s *LevelStore) Write(b *Batch) error {
	lb := new(leveldb.Batch)
	for _, op := range b.Ops {
		if op.Delete {
			lb.Delete(op.Key)
		} else {
			lb.Put(op.Key, op.Value)
		}
	}
	if err := s.db.Write(lb, &opt.WriteOptions{Sync: s.sync}); err != nil {
		return fmt.Errorf("write batch of %d: %w", len(b.Ops), err)
	}
	return nil
}

// Iterate implements Store.
func (s *LevelStore) Iterate(prefix []byte, fn func(key, value []byte) error) error {
	it := s.db.NewIterator(util.BytesPrefix(prefix), nil)
	defer it.Release()
	for it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("iterate %x: %w", prefix, err)
	}
	return nil
}

// Close implements Store.
func (s *LevelStore) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close chain store: %w", err)
	}
	return nil
}
