package chunker

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// Garbage collection. Remove already frees what a dropped root alone used,
// so in a store that never crashed GC finds nothing. What it finds is what
// an interruption can leave: an owner whose blocks no kept root, fetch or
// unfinished import holds any more (a crash between committing a root
// again and releasing its previous owner), and block bytes in the index
// that no owner marks (a crash part way through a release). GC releases
// those owners as Remove would and deletes those bytes. Files kept by
// reference are never deleted, only forgotten with their owner.

// GCResult says what GC freed.
type GCResult struct {
	// Owners is the number of owners released.
	Owners int
	// Blocks lists the blocks whose bytes were deleted from the index;
	// Bytes is their total size.
	Blocks []cid.Cid
	Bytes  int64
}

func (r *GCResult) add(c cid.Cid, n int) {
	r.Blocks = append(r.Blocks, c)
	r.Bytes += int64(n)
}

// GC frees every block no kept root, fetch or unfinished import uses, and
// says what it freed. It holds the store's ownership lock throughout, so
// shares and fetches wait for it (they are not refused).
func (s *Store) GC(ctx context.Context) (GCResult, error) {
	s.gc.Lock()
	defer s.gc.Unlock()
	var res GCResult

	live, err := s.liveOwners()
	if err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	orphans, err := s.ownersWithout(live)
	if err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	for _, o := range orphans {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := s.releaseLocked(o, nil, &res); err != nil {
			return res, fmt.Errorf("gc: release owner %d: %w", o, err)
		}
		res.Owners++
		s.log.Info("gc released an owner that nothing holds", "owner", o)
	}

	// Block bytes no owner marks.
	b := new(leveldb.Batch)
	err = s.each(pNode, func(k, v []byte) error {
		if c, err := cid.Cast(k[1:]); err == nil && !s.hasPrefix(cidKey(pNodeOwner, c)) {
			res.add(c, len(v))
			b.Delete(append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	if err := s.db.Write(b, nil); err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	return res, nil
}

// liveOwners are the owners something holds: a kept root, a fetch, or a
// pending (uncommitted) import or fetch.
func (s *Store) liveOwners() (map[uint64]bool, error) {
	live := map[uint64]bool{}
	err := s.each(pRoot, func(_, v []byte) error {
		r, err := decodeRootRecord(v)
		live[r.Owner] = true
		return err
	})
	if err == nil {
		err = s.each(pIncoming, func(_, v []byte) error {
			r, err := decodeIncomingRecord(v)
			live[r.Owner] = true
			return err
		})
	}
	if err == nil {
		err = s.each(pPending, func(k, _ []byte) error {
			if len(k) == 9 {
				live[binary.BigEndian.Uint64(k[1:])] = true
			}
			return nil
		})
	}
	return live, err
}

// each calls fn with every key and value under prefix until fn fails.
func (s *Store) each(prefix byte, fn func(k, v []byte) error) error {
	it := s.db.NewIterator(util.BytesPrefix([]byte{prefix}), nil)
	defer it.Release()
	for it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			return err
		}
	}
	return it.Error()
}

// ownersWithout lists the owners that hold blocks or files and are not
// in live, in order.
func (s *Store) ownersWithout(live map[uint64]bool) ([]uint64, error) {
	var out []uint64
	seen := map[uint64]bool{}
	for _, p := range []byte{pOwnerNode, pOwnerFile} {
		err := s.each(p, func(k, _ []byte) error {
			if len(k) >= 9 {
				if o := binary.BigEndian.Uint64(k[1:9]); !live[o] && !seen[o] {
					seen[o] = true
					out = append(out, o)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
