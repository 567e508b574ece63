package chunker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func openStore(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func cat(t testing.TB, s *Store, c cid.Cid) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := s.Cat(context.Background(), c, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var small = Params{ChunkSize: 256, MaxLinks: 4}

func TestStoreAddCatLsRm(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "store"))
	defer s.Close()

	shared := testData(256*3, 7) // three whole chunks both files start with
	a := append(bytes.Clone(shared), testData(700, 8)...)
	b := append(bytes.Clone(shared), testData(900, 9)...)
	writeTestFile(t, filepath.Join(dir, "a"), a)
	writeTestFile(t, filepath.Join(dir, "b"), b)

	ra, err := s.AddPath(ctx, filepath.Join(dir, "a"), small)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := s.AddPath(ctx, filepath.Join(dir, "b"), small)
	if err != nil {
		t.Fatal(err)
	}
	if ra.Size != uint64(len(a)) || rb.Size != uint64(len(b)) {
		t.Fatalf("sizes %d %d", ra.Size, rb.Size)
	}
	if want, _ := boxoImport(t, a, small); ra.Cid != want.Cid() {
		t.Fatalf("root %s, boxo %s", ra.Cid, want.Cid())
	}
	if !bytes.Equal(cat(t, s, ra.Cid), a) || !bytes.Equal(cat(t, s, rb.Cid), b) {
		t.Fatal("cat differs from the file")
	}
	roots, err := s.Roots()
	if err != nil || len(roots) != 2 {
		t.Fatalf("roots %v %v", roots, err)
	}

	la, err := s.Leaves(ctx, ra.Cid)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := s.Leaves(ctx, rb.Cid)
	if err != nil {
		t.Fatal(err)
	}
	sharedLeaf := la.Leaves[0].Cid
	if lb.Leaves[0].Cid != sharedLeaf {
		t.Fatal("files do not share their first leaf")
	}
	onlyA := la.Leaves[len(la.Leaves)-1].Cid

	if err := s.Remove(ra.Cid); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ra.Cid); !errors.Is(err, ErrNotKept) {
		t.Fatalf("second remove: %v", err)
	}
	if s.Has(ra.Cid) || s.Has(onlyA) {
		t.Fatal("blocks only a used are still there")
	}
	if !s.Has(sharedLeaf) {
		t.Fatal("shared leaf was freed")
	}
	if _, err := s.Get(ctx, onlyA); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get freed block: %v", err)
	}
	// b is still served, from its own file.
	if !bytes.Equal(cat(t, s, rb.Cid), b) {
		t.Fatal("b damaged by removing a")
	}
	if err := s.Remove(rb.Cid); err != nil {
		t.Fatal(err)
	}
	if s.Has(sharedLeaf) || s.Has(rb.Cid) {
		t.Fatal("blocks left after removing every root")
	}
	// The index holds nothing but the id counter.
	it := s.db.NewIterator(nil, nil)
	for it.Next() {
		if it.Key()[0] != pCounter {
			t.Errorf("key %q left in the index", it.Key())
		}
	}
	it.Release()
	// The user's files are untouched.
	if got, _ := os.ReadFile(filepath.Join(dir, "a")); !bytes.Equal(got, a) {
		t.Fatal("shared file modified")
	}
}

func TestStoreSharedNodesAcrossRoots(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "store"))
	defer s.Close()
	data := testData(5000, 3)
	writeTestFile(t, filepath.Join(dir, "tree", "f"), data)
	rf, err := s.AddPath(ctx, filepath.Join(dir, "tree", "f"), small)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := s.AddPath(ctx, filepath.Join(dir, "tree"), small)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(rd.Cid); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cat(t, s, rf.Cid), data) {
		t.Fatal("file root lost nodes it shared with the removed directory")
	}
}

func TestStoreReopenPersists(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "store"))
	data := testData(3000, 4)
	writeTestFile(t, filepath.Join(dir, "f"), data)
	r, err := s.AddPath(ctx, filepath.Join(dir, "f"), small)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := s.AddReader(ctx, bytes.NewReader(data[:1000]), small)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, filepath.Join(dir, "store"))
	defer s.Close()
	roots, err := s.Roots()
	if err != nil || len(roots) != 2 {
		t.Fatalf("roots after reopen: %v %v", roots, err)
	}
	if !bytes.Equal(cat(t, s, r.Cid), data) || !bytes.Equal(cat(t, s, rs.Cid), data[:1000]) {
		t.Fatal("content lost across reopen")
	}
}

func TestStoreReferencedFileChangedOrMissing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "store"))
	defer s.Close()
	path := filepath.Join(dir, "f")
	data := testData(2000, 5)
	writeTestFile(t, path, data)
	r, err := s.AddPath(ctx, path, small)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Leaves(ctx, r.Cid)
	if err != nil {
		t.Fatal(err)
	}
	leaf := l.Leaves[1]

	// Same size and mtime, different bytes: the block is corrupt.
	st, _ := os.Stat(path)
	bad := bytes.Clone(data)
	bad[leaf.Offset] ^= 0xff
	writeTestFile(t, path, bad)
	if err := os.Chtimes(path, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(ctx, leaf.Cid)
	var be *BlockError
	if !errors.Is(err, ErrHashMismatch) || !errors.As(err, &be) || be.Cid != leaf.Cid || !strings.Contains(err.Error(), leaf.Cid.String()) {
		t.Fatalf("corrupt leaf: %v", err)
	}
	var out bytes.Buffer
	if _, err := s.Cat(ctx, r.Cid, &out); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("cat of corrupt file: %v", err)
	}
	if out.Len() != int(leaf.Offset) {
		t.Fatalf("cat wrote %d bytes, want only the %d before the bad leaf", out.Len(), leaf.Offset)
	}

	// Appended to: size changed, the untouched leaves still verify, the
	// changed one says the file changed.
	writeTestFile(t, path, append(bytes.Clone(bad), 'x'))
	if _, err := s.Get(ctx, l.Leaves[0].Cid); err != nil {
		t.Fatalf("unchanged leaf of a changed file: %v", err)
	}
	if _, err := s.Get(ctx, leaf.Cid); !errors.Is(err, ErrSourceChanged) || !errors.As(err, &be) || be.Cid != leaf.Cid {
		t.Fatalf("changed file: %v", err)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, leaf.Cid); !errors.Is(err, ErrSourceMissing) || !strings.Contains(err.Error(), path) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestStoreCorruptNodeDetected(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	defer s.Close()
	r, err := s.AddReader(ctx, bytes.NewReader(testData(4000, 6)), small)
	if err != nil {
		t.Fatal(err)
	}
	key := plainCidKey(pNode, r.Cid)
	v, err := s.db.Get(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	v[len(v)-1] ^= 1
	if err := s.db.Put(key, v, nil); err != nil {
		t.Fatal(err)
	}
	var be *BlockError
	if _, err := s.Get(ctx, r.Cid); !errors.Is(err, ErrHashMismatch) || !errors.As(err, &be) || be.Cid != r.Cid {
		t.Fatalf("corrupt node: %v", err)
	}
	if _, err := s.Cat(ctx, r.Cid, &bytes.Buffer{}); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("cat over corrupt node: %v", err)
	}
}

func TestStoreRoundTripSizes(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	defer s.Close()
	for _, p := range []Params{small, {ChunkSize: 1000, MaxLinks: 2}, LegacyParams()} {
		for _, n := range []int{0, 1, 255, 256, 257, 1023, 1024, 1025, 4096, 4097, 70001, 600_000} {
			data := testData(n, uint64(n)+uint64(p.ChunkSize))
			r, err := s.AddReader(ctx, bytes.NewReader(data), p)
			if err != nil {
				t.Fatal(err)
			}
			if got := cat(t, s, r.Cid); !bytes.Equal(got, data) {
				t.Fatalf("%+v size %d: round trip differs", p, n)
			}
		}
	}
}

// TestDirectoryMatchesBoxo imports a tree with a nested directory, an empty
// file and an empty directory, checks the CIDs against boxo, exports it and
// compares the files.
func TestDirectoryMatchesBoxo(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files := map[string][]byte{
		"b.txt":           []byte("hello\n"),
		"a.bin":           testData(3000, 10),
		"sub/c.bin":       testData(1100, 11),
		"sub/deeper/e":    nil,
		"sub/Z upper.txt": []byte("sorts before c"),
	}
	for p, d := range files {
		writeTestFile(t, filepath.Join(src, filepath.FromSlash(p)), d)
	}
	if err := os.Mkdir(filepath.Join(src, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(src, ".hidden"), []byte("skipped like ipfs add without --hidden"))

	s := openStore(t, filepath.Join(dir, "store"))
	defer s.Close()
	r, err := s.AddPath(ctx, src, small)
	if err != nil {
		t.Fatal(err)
	}

	// The same tree with boxo.
	ds := func() (ds ipld.DAGService) { _, ds = boxoImport(t, nil, small); return ds }()
	file := func(p string) ipld.Node {
		nd, fds := boxoImport(t, files[p], small)
		copyDag(t, fds, ds, nd.Cid())
		return nd
	}
	deeper := boxoDir(t, ds, map[string]ipld.Node{"e": file("sub/deeper/e")})
	sub := boxoDir(t, ds, map[string]ipld.Node{"c.bin": file("sub/c.bin"), "deeper": deeper, "Z upper.txt": file("sub/Z upper.txt")})
	empty := boxoDir(t, ds, nil)
	root := boxoDir(t, ds, map[string]ipld.Node{"a.bin": file("a.bin"), "b.txt": file("b.txt"), "sub": sub, "empty": empty})
	if r.Cid != root.Cid() {
		t.Fatalf("directory %s, boxo %s", r.Cid, root.Cid())
	}
	if !r.Dir || r.Size != 3000+6+1100+14 {
		t.Fatalf("root info %+v", r)
	}

	out := filepath.Join(dir, "out")
	if err := s.Export(ctx, r.Cid, out); err != nil {
		t.Fatal(err)
	}
	for p, d := range files {
		got, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(p)))
		if err != nil || !bytes.Equal(got, d) {
			t.Fatalf("exported %s: %v", p, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(out, "empty")); err != nil || !fi.IsDir() {
		t.Fatalf("empty dir not exported: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, ".hidden")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("hidden file exported: %v", err)
	}
	l, err := s.Leaves(ctx, r.Cid)
	if err != nil {
		t.Fatal(err)
	}
	if l.Size != int64(r.Size) || l.Files[0].Path != "" || !l.Files[0].Dir {
		t.Fatalf("layout %+v", l)
	}
}

func copyDag(t testing.TB, from, to ipld.DAGService, c cid.Cid) {
	t.Helper()
	nd, err := from.Get(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if err := to.Add(context.Background(), nd); err != nil {
		t.Fatal(err)
	}
	for _, l := range nd.Links() {
		copyDag(t, from, to, l.Cid)
	}
}

func TestExportRejectsUnsafeNames(t *testing.T) {
	m := newMemSink()
	leaf := sumCID(CodecRaw, []byte("x"))
	m.blocks[leaf] = []byte("x")
	for _, name := range []string{"..", "a/b", ".", ""} {
		data := AppendPBNode(nil, &PBNode{Links: []PBLink{{Hash: leaf, Name: name, Tsize: 1}}, Data: dirData()})
		c := sumCID(CodecDagPB, data)
		m.blocks[c] = data
		err := WriteTree(context.Background(), m, c, filepath.Join(t.TempDir(), "out"))
		if !errors.Is(err, ErrBadName) {
			t.Errorf("name %q: %v", name, err)
		}
	}
}

type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestImportErrorsRollBack(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	boom := errors.New("disk on fire")
	_, err := s.AddReader(context.Background(), &failingReader{bytes.NewReader(testData(5000, 1)), boom}, small)
	if !errors.Is(err, boom) {
		t.Fatalf("read error: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.AddReader(ctx, bytes.NewReader(testData(5000, 1)), small); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if _, err := s.AddPath(context.Background(), filepath.Join(t.TempDir(), "nope"), small); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing path: %v", err)
	}
	storeIsEmpty(t, s)
}

// storeIsEmpty asserts that s holds nothing but its id counter: no root,
// block, owner, file or pending marker.
func storeIsEmpty(t *testing.T, s *Store) {
	t.Helper()
	it := s.db.NewIterator(nil, nil)
	defer it.Release()
	for it.Next() {
		if it.Key()[0] != pCounter {
			t.Fatalf("store holds key %q", it.Key())
		}
	}
}
