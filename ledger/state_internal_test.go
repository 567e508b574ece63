package ledger

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

func testCID(t testing.TB, s string) cid.Cid {
	mh, err := multihash.Sum([]byte(s), multihash.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, mh)
}

func sampleUndo(t testing.TB) undoRecord {
	c := testCID(t, "undo")
	rec := NameRecord{Name: "abc", CID: c, Owner: Address{1}, Height: 5, Claimed: 3, TxID: Hash{2}}
	return undoRecord{
		accounts: []undoEntry{{Addr: Address{9}, Account: Account{Balance: 7, Nonce: 1}}, {Addr: Address{8}}},
		index: []indexUndo{
			{key: nameKey("abc"), slot: indexSlot{val: rec.encode(), present: true}},
			{key: firstAnchorKey(c), slot: indexSlot{}},
		},
	}
}

func TestUndoRecordRoundTrip(t *testing.T) {
	for _, u := range []undoRecord{sampleUndo(t), {accounts: sampleUndo(t).accounts}, {accounts: []undoEntry{}}} {
		got, err := decodeUndo(u.encode())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.encode(), u.encode()) || len(got.accounts) != len(u.accounts) || len(got.index) != len(u.index) {
			t.Fatalf("round trip changed the record: %+v, was %+v", got, u)
		}
		for i := range u.index {
			if !reflect.DeepEqual(got.index[i].slot.present, u.index[i].slot.present) || !bytes.Equal(got.index[i].slot.val, u.index[i].slot.val) {
				t.Fatalf("index entry %d: %+v, was %+v", i, got.index[i], u.index[i])
			}
		}
	}
	// A record with no index entries is exactly the format from before the
	// anchor indexes, so undo records already on disk still decode.
	old := undoRecord{accounts: sampleUndo(t).accounts}.encode()
	if len(old) != 4+2*undoEntrySize {
		t.Fatalf("accounts-only record is %d bytes", len(old))
	}
	enc := sampleUndo(t).encode()
	for cut := 4 + 2*undoEntrySize + 1; cut < len(enc); cut++ {
		if _, err := decodeUndo(enc[:cut]); err == nil {
			t.Fatalf("record cut to %d bytes decoded", cut)
		}
	}
}

func TestIndexValuesRoundTrip(t *testing.T) {
	c := testCID(t, "values")
	rec := NameRecord{Name: "my-name", CID: c, Owner: Address{3}, Height: 9, Claimed: 2, TxID: Hash{4}}
	got, err := decodeNameRecord("my-name", rec.encode())
	if err != nil || got != rec {
		t.Fatalf("name record: %+v %v", got, err)
	}
	p := AnchorProof{CID: c, Height: 4, Block: Hash{5}, Time: 1767225600123, TxID: Hash{6}, Owner: Address{7}}
	gp, err := decodeAnchorProof(c, p.encode())
	if err != nil || gp != p {
		t.Fatalf("anchor proof: %+v %v", gp, err)
	}
}

// FuzzDecodeUndo feeds arbitrary bytes to the undo record decoder: it
// must never panic, and what decodes re-encodes to the same bytes.
func FuzzDecodeUndo(f *testing.F) {
	f.Add(sampleUndo(f).encode())
	f.Add(undoRecord{accounts: sampleUndo(f).accounts}.encode())
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 'R', 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := decodeUndo(b)
		if err != nil {
			return
		}
		if !bytes.Equal(u.encode(), b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// FuzzDecodeIndexValues feeds arbitrary bytes to the decoders of name
// records and first anchors: no panic, and a decoded value re-encodes to
// the same bytes.
func FuzzDecodeIndexValues(f *testing.F) {
	c := testCID(f, "fuzz")
	f.Add(NameRecord{Name: "abc", CID: c}.encode())
	f.Add(AnchorProof{CID: c}.encode())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := decodeNameRecord("abc", b); err == nil && !bytes.Equal(r.encode(), b) {
			t.Fatalf("name record re-encoding differs")
		}
		if p, err := decodeAnchorProof(c, b); err == nil && !bytes.Equal(p.encode(), b) {
			t.Fatalf("anchor proof re-encoding differs")
		}
	})
}
