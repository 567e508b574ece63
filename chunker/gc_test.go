package chunker

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// ownedBlocks lists the blocks an owner marks in the index.
func ownedBlocks(t *testing.T, s *Store, owner uint64) map[cid.Cid]bool {
	t.Helper()
	out := map[cid.Cid]bool{}
	it := s.db.NewIterator(util.BytesPrefix(idKey(pOwnerNode, owner)), nil)
	defer it.Release()
	for it.Next() {
		c, err := cid.Cast(it.Key()[9:])
		if err != nil {
			t.Fatal(err)
		}
		out[c] = true
	}
	return out
}

func TestGCFreesExactlyWhatNoRootUses(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	defer s.Close()

	// Two streams that share their first 1024 bytes, so their DAGs share
	// leaves.
	shared := testData(1024, 1)
	dataA := append(append([]byte(nil), shared...), testData(3000, 2)...)
	dataB := append(append([]byte(nil), shared...), testData(3000, 3)...)
	a, err := s.AddReader(ctx, bytes.NewReader(dataA), small)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.AddReader(ctx, bytes.NewReader(dataB), small)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing to free in a store that never crashed.
	if res, err := s.GC(ctx); err != nil || res.Owners != 0 || len(res.Blocks) != 0 {
		t.Fatalf("GC of a clean store: %+v, %v", res, err)
	}

	recA, _ := s.rootRecord(a.Cid)
	recB, _ := s.rootRecord(b.Cid)
	blocksA, blocksB := ownedBlocks(t, s, recA.Owner), ownedBlocks(t, s, recB.Owner)
	want := map[cid.Cid]bool{}
	var wantBytes int64
	for c := range blocksB {
		if !blocksA[c] {
			want[c] = true
			v, err := s.db.Get(plainCidKey(pNode, c), nil)
			if err != nil {
				t.Fatal(err)
			}
			wantBytes += int64(len(v))
		}
	}
	if len(want) == 0 || len(want) == len(blocksB) {
		t.Fatalf("the test data should share some blocks and not others: %d of %d", len(want), len(blocksB))
	}

	// The state a crash leaves between committing a root again and
	// releasing its previous owner: B's owner holds blocks, no root holds
	// that owner. And block bytes no owner marks, as a crash part way
	// through a release leaves.
	if err := s.db.Delete(plainCidKey(pRoot, b.Cid), nil); err != nil {
		t.Fatal(err)
	}
	stray := []byte("stray block")
	strayCID := sumCID(CodecRaw, stray)
	if err := s.db.Put(plainCidKey(pNode, strayCID), stray, nil); err != nil {
		t.Fatal(err)
	}
	want[strayCID] = true
	wantBytes += int64(len(stray))

	res, err := s.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[cid.Cid]bool{}
	for _, c := range res.Blocks {
		got[c] = true
	}
	if res.Owners != 1 || !maps.Equal(got, want) || res.Bytes != wantBytes || len(res.Blocks) != len(want) {
		t.Errorf("GC freed %d owners, %d blocks (%d bytes); want 1 owner, %d blocks (%d bytes)",
			res.Owners, len(res.Blocks), res.Bytes, len(want), wantBytes)
	}
	for c := range want {
		if s.Has(c) {
			t.Errorf("freed block %s is still here", c)
		}
	}
	if !bytes.Equal(cat(t, s, a.Cid), dataA) {
		t.Error("the kept root lost blocks")
	}
	if res, err := s.GC(ctx); err != nil || res.Owners != 0 || len(res.Blocks) != 0 {
		t.Errorf("second GC: %+v, %v", res, err)
	}
	if len(ownedBlocks(t, s, recB.Owner)) != 0 {
		t.Error("the released owner still marks blocks")
	}
}

func TestGCKeepsFetchesAndPendingImports(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	defer s.Close()
	r, err := s.AddReader(ctx, bytes.NewReader(testData(4000, 4)), small)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := s.rootRecord(r.Cid)
	// The same owner, now only pending (an import not yet committed):
	// GC must keep it.
	if err := s.db.Delete(plainCidKey(pRoot, r.Cid), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Put(idKey(pPending, rec.Owner), []byte{pendingImport}, nil); err != nil {
		t.Fatal(err)
	}
	res, err := s.GC(ctx)
	if err != nil || res.Owners != 0 || len(res.Blocks) != 0 {
		t.Errorf("GC with a pending owner: %+v, %v", res, err)
	}
	if got := slices.Collect(maps.Keys(ownedBlocks(t, s, rec.Owner))); len(got) == 0 {
		t.Error("the pending owner lost its blocks")
	}
}
