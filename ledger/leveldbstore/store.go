package leveldbstore

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/util"

	"github.com/myco-p2p/myco/internal/forkjoin"
	"github.com/myco-p2p/myco/ledger"
)

// Store is a ledger.Store on goleveldb.
type Store struct {
	db   *leveldb.DB
	sync bool
}

// Options tune Open.
type Options struct {
	// NoSync skips the fsync after each batch: a process crash still
	// loses nothing, a power cut may lose the last blocks (never
	// consistency). Tests and benchmarks use it.
	NoSync bool
}

// Open opens (creating if needed) a leveldb store in dir.
func Open(dir string, o Options) (*Store, error) {
	// A 1 MiB write buffer (leveldb's default is 4 MiB, allocated up front):
	// headers and blocks arrive a few at a time, and the daemon's memory is
	// budgeted (node/memory.go).
	db, err := leveldb.OpenFile(dir, &opt.Options{WriteBuffer: 1 << 20})
	if err != nil {
		return nil, fmt.Errorf("open chain store %s: %w", dir, err)
	}
	return &Store{db: db, sync: !o.NoSync}, nil
}

// Get implements ledger.Store.
func (s *Store) Get(key []byte) ([]byte, error) {
	v, err := s.db.Get(key, nil)
	if errors.Is(err, leveldb.ErrNotFound) {
		return nil, fmt.Errorf("get %x: %w", key, ledger.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %x: %w", key, err)
	}
	return v, nil
}

// Write implements ledger.Store with one leveldb batch.
func (s *Store) Write(b *ledger.Batch) error {
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

// Iterate implements ledger.Store.
func (s *Store) Iterate(prefix []byte, fn func(key, value []byte) error) error {
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

// Close implements ledger.Store.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close chain store: %w", err)
	}
	return nil
}

// OpenChain opens (or creates) the chain of network n in a leveldb store
// in dir, as the node keeps it: every batch synced to disk.
func OpenChain(dir string, n ledger.Network, logger *slog.Logger) (*ledger.Chain, error) {
	s, err := Open(dir, Options{})
	if err != nil {
		return nil, err
	}
	c, err := ledger.OpenChain(ledger.Config{Params: n.Params(), Store: s, Logger: logger,
		Parallel: forkjoin.New(runtime.GOMAXPROCS(0))})
	if err != nil {
		s.Close()
		return nil, err
	}
	return c, nil
}

// Compile-time check that Store is a ledger.Store.
var _ ledger.Store = (*Store)(nil)
