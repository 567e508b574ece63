package dht

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/namespace"
	dsq "github.com/ipfs/go-datastore/query"
)

// provideSetPrefix is the datastore namespace of the roots to reprovide. The
// library keeps its provider records under "/providers" and value records
// under their own record-type prefixes, so the namespaces never meet.
var provideSetPrefix = ds.NewKey("/myco/provide")

// provideSet is the persistent set of root CIDs this node announces. Each
// root is one key (the CID's string form) whose value is the CID's bytes;
// writes are synchronous leveldb writes, so a root survives a crash as soon
// as Add returns.
type provideSet struct {
	store ds.Datastore
}

func newProvideSet(store ds.Datastore) *provideSet {
	return &provideSet{store: namespace.Wrap(store, provideSetPrefix)}
}

func provideKey(c cid.Cid) ds.Key {
	return ds.NewKey(c.String())
}

// Add records c; adding a root twice is not an error.
func (s *provideSet) Add(ctx context.Context, c cid.Cid) error {
	if err := s.store.Put(ctx, provideKey(c), c.Bytes()); err != nil {
		return fmt.Errorf("remember root %s: %w", c, err)
	}
	return nil
}

// Remove forgets c and reports whether it was there.
func (s *provideSet) Remove(ctx context.Context, c cid.Cid) (bool, error) {
	had, err := s.store.Has(ctx, provideKey(c))
	if err != nil {
		return false, fmt.Errorf("forget root %s: %w", c, err)
	}
	if !had {
		return false, nil
	}
	if err := s.store.Delete(ctx, provideKey(c)); err != nil {
		return false, fmt.Errorf("forget root %s: %w", c, err)
	}
	return true, nil
}

// Has reports whether c is in the set.
func (s *provideSet) Has(ctx context.Context, c cid.Cid) (bool, error) {
	ok, err := s.store.Has(ctx, provideKey(c))
	if err != nil {
		return false, fmt.Errorf("look up root %s: %w", c, err)
	}
	return ok, nil
}

// All returns every root in the set. An entry that does not decode, or
// whose key does not match its value, is skipped and reported in the error
// (joined), so one bad record never hides the good ones.
func (s *provideSet) All(ctx context.Context) ([]cid.Cid, error) {
	res, err := s.store.Query(ctx, dsq.Query{})
	if err != nil {
		return nil, fmt.Errorf("list roots: %w", err)
	}
	defer func() { _ = res.Close() }()

	var (
		roots []cid.Cid
		errs  []error
	)
	for {
		e, ok := res.NextSync()
		if !ok {
			break
		}
		if e.Error != nil {
			return roots, fmt.Errorf("list roots: %w", e.Error)
		}
		c, err := decodeProvideEntry(e.Key, e.Value)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		roots = append(roots, c)
	}
	return roots, errors.Join(errs...)
}

// decodeProvideEntry decodes one stored root and checks that the key it is
// stored under names the same CID.
func decodeProvideEntry(key string, value []byte) (cid.Cid, error) {
	c, err := decodeCIDBytes(value)
	if err != nil {
		return cid.Undef, fmt.Errorf("provide set entry %q: %w", key, err)
	}
	if want := provideKey(c).String(); key != want {
		return cid.Undef, fmt.Errorf("provide set entry %q: %w: holds %s", key, ErrMalformedCID, c)
	}
	return c, nil
}
