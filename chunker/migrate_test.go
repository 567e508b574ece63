package chunker

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/syndtr/goleveldb/leveldb/util"
)

// A fetch recorded by the version that wrote in place (record: owner and
// dest; data and file records at dest) resumes: its data moves to the
// partial path, its leaves are re-verified, and dest is empty until Finish.
func TestFetchResumesLegacyRecord(t *testing.T) {
	dir := t.TempDir()
	data := testData(256*10+9, 19)
	src, r := shareFile(t, dir, "orig", data, small)
	dst := openStore(t, filepath.Join(dir, "dst"))
	dest := filepath.Join(dir, "dl", "legacy.bin")
	f, err := dst.StartFetch(r.Cid, dest, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fetchNodes(t, src, f)
	fetchLeaves(t, src, f, func(i int) bool { return i < 4 })
	part, owner := f.Part(), f.owner

	// Turn it into what the old version left: data at dest, file records
	// naming dest, the old record.
	if err := os.Rename(part, dest); err != nil {
		t.Fatal(err)
	}
	it := dst.db.NewIterator(util.BytesPrefix(idKey(pOwnerFile, owner)), nil)
	for it.Next() {
		fid := binary.BigEndian.Uint64(it.Key()[9:])
		v, err := dst.db.Get(idKey(pFile, fid), nil)
		if err != nil {
			t.Fatal(err)
		}
		rec, _ := decodeFileRecord(v)
		rec.Path = dest
		if err := dst.db.Put(idKey(pFile, fid), rec.encode(), nil); err != nil {
			t.Fatal(err)
		}
	}
	it.Release()
	old := append(binary.AppendUvarint(nil, owner), dest...)
	if err := dst.db.Put(plainCidKey(pIncoming, r.Cid), old, nil); err != nil {
		t.Fatal(err)
	}
	dst.Close()

	dst = openStore(t, filepath.Join(dir, "dst"))
	defer dst.Close()
	inc, err := dst.Incoming()
	if err != nil || len(inc) != 1 || inc[0].Dest != dest || inc[0].Part != part {
		t.Fatalf("incoming from an old record: %+v %v", inc, err)
	}
	f, err = dst.StartFetch(r.Cid, "", FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if have, _ := f.Progress(); have != 4 {
		t.Fatalf("resumed with %d leaves, want 4", have)
	}
	mustNotExist(t, dest)
	if f.Part() != part {
		t.Fatalf("part %s", f.Part())
	}
	v, err := dst.db.Get(plainCidKey(pIncoming, r.Cid), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := decodeIncomingRecord(v); err != nil || rec.Legacy || rec.Part != part || rec.Dest != dest {
		t.Fatalf("record not migrated: %+v %v", rec, err)
	}
	fetchAll(t, src, f)
	if _, err := f.Finish(); err != nil {
		t.Fatal(err)
	}
	mustHold(t, dest, data)
	mustNotExist(t, part)
}

func TestIncomingRecordCoding(t *testing.T) {
	for _, rec := range []incomingRecord{
		{Owner: 1, Dest: "/a/b", Part: "/a/.b.myco-part"},
		{Owner: 1 << 40, Dest: "/x y/é", Part: "/x y/.é.myco-part", Force: true},
	} {
		got, err := decodeIncomingRecord(rec.encode())
		if err != nil || got != rec {
			t.Fatalf("round trip %+v: %+v %v", rec, got, err)
		}
	}
	// Version 1: owner as uvarint (never 0), then dest.
	for _, owner := range []uint64{1, 127, 128, 1 << 20} {
		old := append(binary.AppendUvarint(nil, owner), "/d/f"...)
		got, err := decodeIncomingRecord(old)
		if err != nil || !got.Legacy || got.Owner != owner || got.Dest != "/d/f" || got.Part != "" {
			t.Fatalf("old record of owner %d: %+v %v", owner, got, err)
		}
	}
	for _, bad := range [][]byte{nil, {0}, {0, 3, 0, 1}, {0, 2, 0, 0}, {0, 2, 0, 1, 9, 'a'}, {0x80}} {
		if _, err := decodeIncomingRecord(bad); !errors.Is(err, ErrMalformed) {
			t.Fatalf("decode %x: %v", bad, err)
		}
	}
}

// A directory root: the partial directory holds the tree until Finish;
// a crash between rename and commit is recovered by re-verifying the
// destination tree.
func TestFetchDirectoryPartialAndCrash(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	files := map[string][]byte{"a": testData(1000, 20), "s/b": testData(700, 21), "s/e": nil}
	for p, d := range files {
		writeTestFile(t, filepath.Join(dir, "tree", filepath.FromSlash(p)), d)
	}
	if err := os.Symlink("a", filepath.Join(dir, "tree", "ln")); err != nil {
		t.Fatal(err)
	}
	src := openStore(t, filepath.Join(dir, "src"))
	defer src.Close()
	r, err := src.AddPath(ctx, filepath.Join(dir, "tree"), small)
	if err != nil {
		t.Fatal(err)
	}
	dst := openStore(t, filepath.Join(dir, "dst"))
	dst.hooks.afterRename = func() error { return errors.New("crash") }
	dest := filepath.Join(dir, "got")
	f, err := dst.StartFetch(r.Cid, dest, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fetchAll(t, src, f)
	mustNotExist(t, dest)
	mustHold(t, filepath.Join(f.Part(), "s", "b"), files["s/b"])
	if _, err := f.Finish(); err == nil {
		t.Fatal("the crash hook did not stop Finish")
	}
	dst.Close()

	dst = openStore(t, filepath.Join(dir, "dst"))
	defer dst.Close()
	f, err = dst.StartFetch(r.Cid, "", FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Complete() {
		t.Fatal("the renamed tree was not recognised")
	}
	info, err := f.Finish()
	if err != nil || !info.Dir || info.Name != "got" {
		t.Fatalf("finish: %+v %v", info, err)
	}
	for p, d := range files {
		mustHold(t, filepath.Join(dest, filepath.FromSlash(p)), d)
	}
	if l, err := os.Readlink(filepath.Join(dest, "ln")); err != nil || l != "a" {
		t.Fatalf("symlink: %q %v", l, err)
	}
	if err := dst.CheckSources(r.Cid); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "exported")
	if err := dst.Export(ctx, r.Cid, out); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "a")); !bytes.Equal(got, files["a"]) {
		t.Fatal("export differs")
	}
}

// A record that does not decode blocks neither other fetches nor its own
// removal.
func TestMalformedIncomingRecordCanBeDropped(t *testing.T) {
	dir := t.TempDir()
	data := testData(600, 23)
	src, r := shareFile(t, dir, "orig", data, small)
	dst := openStore(t, filepath.Join(dir, "dst"))
	defer dst.Close()
	bad := sumCID(CodecRaw, []byte("bad record"))
	if err := dst.db.Put(plainCidKey(pIncoming, bad), []byte{0, 9}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Incoming(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("incoming with a bad record: %v", err)
	}
	f, err := dst.StartFetch(r.Cid, filepath.Join(dir, "out"), FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fetchAll(t, src, f)
	if _, err := f.Finish(); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.StartFetch(bad, "", FetchOptions{}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("resume of a bad record: %v", err)
	}
	if err := dst.DropIncoming(bad, false); err != nil {
		t.Fatal(err)
	}
	if inc, err := dst.Incoming(); err != nil || len(inc) != 0 {
		t.Fatalf("incoming after the drop: %v %v", inc, err)
	}
}
