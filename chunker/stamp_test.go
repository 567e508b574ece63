package chunker

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
)

// stampOf returns the stamp of the file at path.
func stampOf(t *testing.T, path string) fileStamp {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _, err := stamp(f)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// laterThanChangeTime waits until a write in dir gets a change time after
// c (the file system's clock has ticked past it), so the change a test
// makes next is one a stamp can see. It polls a probe file, with a
// deadline.
func laterThanChangeTime(t *testing.T, dir string, c int64) {
	t.Helper()
	probe := filepath.Join(dir, "probe")
	defer os.Remove(probe)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if err := os.WriteFile(probe, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if stampOf(t, probe).CTime > c {
			return
		}
	}
	t.Fatalf("no change time after %d within 5 s", c)
}

// replaceByRename replaces the file at path by a new one (another inode)
// holding data, with the old one's mtime.
func replaceByRename(t *testing.T, path string, data []byte) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, path+".new", data)
	if err := os.Chtimes(path+".new", st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

// TestTrustedFileServedWithoutHashing: a file shared while quiet is read
// without hashing while its stamp is unchanged; any change the stamp shows
// (a rewrite in place with its mtime restored, a replacement by rename, a
// truncation) makes reads hash again, and the bytes that changed are never
// returned: the error says the source changed.
func TestTrustedFileServedWithoutHashing(t *testing.T) {
	if _, id, _ := stamp(os.Stdin); !id {
		t.Skip("no file identity on this system: every read is hashed")
	}
	data := testData(2000, 5)
	cases := []struct {
		name string
		// change alters the file at path (leaf: the leaf to alter);
		// same says whether its bytes stay as shared.
		change func(t *testing.T, path string, leaf Leaf)
		same   bool
	}{
		{"unchanged", func(*testing.T, string, Leaf) {}, true},
		{"rewritten in place, mtime restored", func(t *testing.T, path string, leaf Leaf) {
			st, _ := os.Stat(path)
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte{^data[leaf.Offset]}, int64(leaf.Offset)); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if err := os.Chtimes(path, st.ModTime(), st.ModTime()); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"replaced by rename, mtime restored", func(t *testing.T, path string, leaf Leaf) {
			bad := bytes.Clone(data)
			bad[leaf.Offset] ^= 0xff
			replaceByRename(t, path, bad)
		}, false},
		{"replaced by rename with the same bytes", func(t *testing.T, path string, leaf Leaf) {
			replaceByRename(t, path, data)
		}, true},
		{"truncated", func(t *testing.T, path string, leaf Leaf) {
			if err := os.Truncate(path, int64(leaf.Offset)+1); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			s := openStore(t, filepath.Join(dir, "store"))
			defer s.Close()
			// The file was written long before it is shared.
			s.hooks.now = func() time.Time { return time.Now().Add(time.Hour) }
			var hashed []cid.Cid
			s.hooks.hashRef = func(c cid.Cid) { hashed = append(hashed, c) }
			path := filepath.Join(dir, "f")
			writeTestFile(t, path, data)
			r, err := s.AddPath(ctx, path, small)
			if err != nil {
				t.Fatal(err)
			}
			l, err := s.Leaves(ctx, r.Cid)
			if err != nil {
				t.Fatal(err)
			}
			for _, lf := range l.Leaves {
				b, err := s.Get(ctx, lf.Cid)
				if err != nil || !bytes.Equal(b, data[lf.Offset:lf.Offset+lf.Size]) {
					t.Fatalf("leaf at %d before any change: %v", lf.Offset, err)
				}
			}
			if len(hashed) != 0 {
				t.Fatalf("a trusted file's leaves were hashed %d times", len(hashed))
			}

			laterThanChangeTime(t, dir, stampOf(t, path).CTime)
			leaf := l.Leaves[1]
			tc.change(t, path, leaf)

			buf := make([]byte, MaxBlockSize)
			for _, lf := range l.Leaves {
				want := data[lf.Offset : lf.Offset+lf.Size]
				b, err := s.GetInto(ctx, lf.Cid, buf)
				switch {
				case err == nil && !bytes.Equal(b, want):
					t.Fatalf("leaf at %d: wrong bytes served", lf.Offset)
				case err == nil && !tc.same && lf == leaf:
					t.Fatalf("leaf at %d: changed, yet served", lf.Offset)
				case err != nil && (tc.same || lf == leaf) && !errors.Is(err, ErrSourceChanged):
					t.Fatalf("leaf at %d: %v, want ErrSourceChanged", lf.Offset, err)
				case err != nil && tc.same:
					t.Fatalf("leaf at %d of an unchanged file: %v", lf.Offset, err)
				}
				if err == nil && &b[0] != &buf[0] {
					t.Fatalf("leaf at %d: GetInto did not read into the buffer given", lf.Offset)
				}
			}
			if tc.name == "unchanged" && len(hashed) != 0 {
				t.Fatalf("an unchanged trusted file's leaves were hashed %d times", len(hashed))
			}
			if tc.name != "unchanged" && len(hashed) == 0 {
				t.Fatal("a changed file's leaves were served without hashing")
			}
		})
	}
}

// TestUntrustedFilesAreHashed: a file changed too recently when it was
// shared (racily), and a file recorded by a version without stamps, are
// hashed on every read.
func TestUntrustedFilesAreHashed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "store"))
	defer s.Close()
	hashed := 0
	s.hooks.hashRef = func(cid.Cid) { hashed++ }
	data := testData(1000, 3)
	path := filepath.Join(dir, "f")
	writeTestFile(t, path, data)
	st := stampOf(t, path)
	// Shared within the racy margin of its last change.
	s.hooks.now = func() time.Time { return time.Unix(0, st.CTime+int64(racyFine)/2) }
	r, err := s.AddPath(ctx, path, small)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Leaves(ctx, r.Cid)
	if err != nil {
		t.Fatal(err)
	}
	getAll := func() {
		t.Helper()
		hashed = 0
		for _, lf := range l.Leaves {
			if _, err := s.Get(ctx, lf.Cid); err != nil {
				t.Fatal(err)
			}
		}
		if hashed != len(l.Leaves) {
			t.Fatalf("%d of %d leaves hashed", hashed, len(l.Leaves))
		}
	}
	getAll()

	// The same file recorded as a version 1 record (no stamp).
	it := s.db.NewIterator(nil, nil)
	for it.Next() {
		if k := it.Key(); len(k) == 9 && k[0] == pFile {
			rec, err := decodeFileRecord(it.Value())
			if err != nil {
				t.Fatal(err)
			}
			v1 := append([]byte{1, 1}, rec.encode()[2:]...) // untrusted: same layout
			if err := s.db.Put(bytes.Clone(k), v1, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	it.Release()
	getAll()
}

func TestFileRecordCoding(t *testing.T) {
	for _, rec := range []fileRecord{
		{Owner: 7, Path: "/x/.f.myco-part"},
		{Owner: 1 << 40, Complete: true, Size: 1 << 33, MTime: -5, Path: "/a b/c"},
		{Owner: 2, Complete: true, Size: 9, MTime: 1e18, Trusted: true, CTime: 1e18 + 3, Dev: 1 << 63, Ino: 12345, Path: `C:\x\y`},
	} {
		got, err := decodeFileRecord(rec.encode())
		if err != nil || got != rec {
			t.Fatalf("%+v: decoded %+v, %v", rec, got, err)
		}
	}
	// Version 1: flags byte 1 when complete, no stamp.
	v1 := []byte{1, 1, 3, 4, 6}
	v1 = append(v1, "/old"...)
	got, err := decodeFileRecord(v1)
	if want := (fileRecord{Owner: 3, Complete: true, Size: 2, MTime: 3, Path: "/old"}); err != nil || got != want {
		t.Fatalf("version 1: %+v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, {3, 0}, {2, fileTrusted, 1, 2, 2}, {2, fileTrusted, 1, 2, 2, 2, 0x80}} {
		if _, err := decodeFileRecord(bad); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%x: %v", bad, err)
		}
	}
}
