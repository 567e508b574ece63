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
	it := s.db.NewIterator(util.BytesPrefix([]byte{pNode}), nil)
	for it.Next() {
		c, err := cid.Cast(it.Key()[1:])
		if err != nil || s.hasPrefix(cidKey(pNodeOwner, c)) {
			continue
		}
		res.add(c, len(it.Value()))
		b.Delete(append([]byte(nil), it.Key()...))
	}
	it.Release()
	if err := it.Error(); err != nil {
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
	it := s.db.NewIterator(util.BytesPrefix([]byte{pRoot}), nil)
	for it.Next() {
		r, err := decodeRootRecord(it.Value())
		if err != nil {
			it.Release()
			return nil, err
		}
		live[r.Owner] = true
	}
	it.Release()
	if err := it.Error(); err != nil {
		return nil, err
	}
	it = s.db.NewIterator(util.BytesPrefix([]byte{pIncoming}), nil)
	for it.Next() {
		r, err := decodeIncomingRecord(it.Value())
		if err != nil {
			it.Release()
			return nil, err
		}
		live[r.Owner] = true
	}
	it.Release()
	if err := it.Error(); err != nil {
		return nil, err
	}
	it = s.db.NewIterator(util.BytesPrefix([]byte{pPending}), nil)
	for it.Next() {
		if len(it.Key()) == 9 {
			live[binary.BigEndian.Uint64(it.Key()[1:])] = true
		}
	}
	it.Release()
	return live, it.Error()
}

// ownersWithout lists the owners that hold blocks or files and are not
// in live, in order.
func (s *Store) ownersWithout(live map[uint64]bool) ([]uint64, error) {
	var out []uint64
	seen := map[uint64]bool{}
	for _, p := range []byte{pOwnerNode, pOwnerFile} {
		it := s.db.NewIterator(util.BytesPrefix([]byte{p}), nil)
		for it.Next() {
			if len(it.Key()) < 9 {
				continue
			}
			o := binary.BigEndian.Uint64(it.Key()[1:9])
			if !live[o] && !seen[o] {
				seen[o] = true
				out = append(out, o)
			}
		}
		it.Release()
		if err := it.Error(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
