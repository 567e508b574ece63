package chunker

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// AddPath records the name it was given; re-sharing the same content
// under another name takes the new one. Old records read with no name.
func TestRootNames(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "store"))
	defer func() { s.Close() }()
	data := testData(3000, 12)
	writeTestFile(t, filepath.Join(dir, "report.pdf"), data)
	writeTestFile(t, filepath.Join(dir, "tree", "x"), data)
	r, err := s.AddPath(ctx, filepath.Join(dir, "report.pdf"), small)
	if err != nil || r.Name != "report.pdf" {
		t.Fatalf("share: %+v %v", r, err)
	}
	rd, err := s.AddPath(ctx, filepath.Join(dir, "tree")+"/", small)
	if err != nil || rd.Name != "tree" {
		t.Fatalf("share dir: %+v %v", rd, err)
	}
	rs, err := s.AddReader(ctx, strings.NewReader("stream"), small)
	if err != nil || rs.Name != "" {
		t.Fatalf("stream: %+v %v", rs, err)
	}
	names := func() map[string]string {
		roots, err := s.Roots()
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, ri := range roots {
			m[ri.Cid.String()] = ri.Name
		}
		return m
	}
	if m := names(); m[r.Cid.String()] != "report.pdf" || m[rd.Cid.String()] != "tree" || m[rs.Cid.String()] != "" {
		t.Fatalf("names %v", m)
	}
	writeTestFile(t, filepath.Join(dir, "renamed.pdf"), data)
	if r2, err := s.AddPath(ctx, filepath.Join(dir, "renamed.pdf"), small); err != nil || r2.Cid != r.Cid || r2.Name != "renamed.pdf" {
		t.Fatalf("re-share: %+v %v", r2, err)
	}
	s.Close()
	s = openStore(t, filepath.Join(dir, "store"))
	if got, err := s.Root(r.Cid); err != nil || got.Name != "renamed.pdf" {
		t.Fatalf("after reopen: %+v %v", got, err)
	}

	// A version 1 record (before names) still reads, with no name.
	v1 := []byte{1, kindFile}
	for _, x := range []uint64{7, 3000, 13} {
		v1 = binary.AppendUvarint(v1, x)
	}
	rec, err := decodeRootRecord(v1)
	if err != nil || rec.Owner != 7 || rec.Size != 3000 || rec.Blocks != 13 || rec.Name != "" || rec.Broken != "" {
		t.Fatalf("v1 record: %+v %v", rec, err)
	}
	rec.Name, rec.Broken = "a b", "gone"
	if back, err := decodeRootRecord(rec.encode()); err != nil || back != rec {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	for _, bad := range [][]byte{nil, {3, kindFile, 1, 1, 1}, append(rec.encode()[:len(rec.encode())-2], 0xff)} {
		if _, err := decodeRootRecord(bad); !errors.Is(err, ErrMalformed) {
			t.Fatalf("decode %x: %v", bad, err)
		}
	}
}

// MarkBroken persists; sharing the file again clears it.
func TestMarkBrokenAndReshare(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "store"))
	defer func() { s.Close() }()
	path := filepath.Join(dir, "f")
	writeTestFile(t, path, testData(2000, 13))
	r, err := s.AddPath(ctx, path, small)
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, path, testData(2100, 14)) // edited: now another root
	if err := s.CheckSources(r.Cid); !errors.Is(err, ErrSourceChanged) {
		t.Fatalf("check: %v", err)
	}
	if err := s.MarkBroken(r.Cid, "referenced file changed: "+path); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, filepath.Join(dir, "store"))
	roots, err := s.Roots()
	if err != nil || len(roots) != 1 || !strings.Contains(roots[0].Broken, "changed") || roots[0].Name != "f" {
		t.Fatalf("roots after reopen: %+v %v", roots, err)
	}
	if err := s.MarkBroken(sumCID(CodecRaw, []byte("never kept")), "x"); !errors.Is(err, ErrNotKept) {
		t.Fatalf("mark unknown root: %v", err)
	}
	// The original content back: sharing it again clears the mark.
	writeTestFile(t, path, testData(2000, 13))
	r2, err := s.AddPath(ctx, path, small)
	if err != nil || r2.Cid != r.Cid || r2.Broken != "" {
		t.Fatalf("re-share: %+v %v", r2, err)
	}
	if got, err := s.Root(r.Cid); err != nil || got.Broken != "" {
		t.Fatalf("after re-share: %+v %v", got, err)
	}
	if err := s.CheckSources(r.Cid); err != nil {
		t.Fatal(err)
	}
	// An empty reason clears it too.
	if err := s.MarkBroken(r.Cid, "x"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkBroken(r.Cid, ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Root(r.Cid); got.Broken != "" {
		t.Fatalf("after clearing: %+v", got)
	}
}

// CheckSources sees an edited file (size or mtime) and a deleted one,
// without reading them.
func TestCheckSources(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "store"))
	defer s.Close()
	writeTestFile(t, filepath.Join(dir, "tree", "a"), testData(900, 15))
	writeTestFile(t, filepath.Join(dir, "tree", "sub", "b"), testData(1300, 16))
	writeTestFile(t, filepath.Join(dir, "edited"), testData(1000, 17))
	rt, err := s.AddPath(ctx, filepath.Join(dir, "tree"), small)
	if err != nil {
		t.Fatal(err)
	}
	re, err := s.AddPath(ctx, filepath.Join(dir, "edited"), small)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := s.AddReader(ctx, strings.NewReader("in the index"), small)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []RootInfo{rt, re, rs} {
		if err := s.CheckSources(c.Cid); err != nil {
			t.Fatalf("whole root %s: %v", c.Name, err)
		}
	}
	// Same size, new mtime.
	path := filepath.Join(dir, "edited")
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckSources(re.Cid); !errors.Is(err, ErrSourceChanged) || !strings.Contains(err.Error(), path) {
		t.Fatalf("touched file: %v", err)
	}
	gone := filepath.Join(dir, "tree", "sub", "b")
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckSources(rt.Cid); !errors.Is(err, ErrSourceMissing) || !strings.Contains(err.Error(), gone) {
		t.Fatalf("deleted file: %v", err)
	}
	if err := s.CheckSources(sumCID(CodecRaw, []byte("no"))); !errors.Is(err, ErrNotKept) {
		t.Fatalf("unknown root: %v", err)
	}
}

// An empty path is refused; a top-level symlink is followed (and named after
// itself); a dangling one is a clear error.
func TestSharePathEdgeCases(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "store"))
	defer s.Close()
	if _, err := s.AddPath(ctx, "", small); err == nil || err.Error() != "share: empty path" {
		t.Fatalf("empty path: %v", err)
	}
	data := testData(1500, 18)
	writeTestFile(t, filepath.Join(dir, "real", "file.txt"), data)
	writeTestFile(t, filepath.Join(dir, "real", "dir", "x"), data)
	if err := os.Symlink(filepath.Join("real", "file.txt"), filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "real", "dir"), filepath.Join(dir, "linkdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("nowhere", filepath.Join(dir, "dangling")); err != nil {
		t.Fatal(err)
	}
	rf, err := s.AddPath(ctx, filepath.Join(dir, "real", "file.txt"), small)
	if err != nil {
		t.Fatal(err)
	}
	rl, err := s.AddPath(ctx, filepath.Join(dir, "link.txt"), small)
	if err != nil {
		t.Fatal(err)
	}
	if rl.Cid != rf.Cid || rl.Name != "link.txt" || rl.Dir {
		t.Fatalf("symlink to a file shared as %+v, the file is %+v", rl, rf)
	}
	if got := cat(t, s, rl.Cid); string(got) != string(data) {
		t.Fatal("cat of the shared symlink differs")
	}
	rd, err := s.AddPath(ctx, filepath.Join(dir, "linkdir"), small)
	if err != nil || !rd.Dir || rd.Name != "linkdir" {
		t.Fatalf("symlink to a directory: %+v %v", rd, err)
	}
	rdr, err := s.AddPath(ctx, filepath.Join(dir, "real", "dir"), small)
	if err != nil || rdr.Cid != rd.Cid {
		t.Fatalf("the directory itself: %+v %v", rdr, err)
	}
	if _, err := s.AddPath(ctx, filepath.Join(dir, "dangling"), small); err == nil || !strings.Contains(err.Error(), "dangling symlink to nowhere") {
		t.Fatalf("dangling symlink: %v", err)
	}
}
