package chunker

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// fetchNodes feeds f every node it asks for, from src.
func fetchNodes(t *testing.T, src *Store, f *Fetch) {
	t.Helper()
	for rounds := 0; len(f.Missing()) > 0; rounds++ {
		if rounds > 100 {
			t.Fatal("nodes never complete")
		}
		for _, c := range f.Missing() {
			b, err := src.Get(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.PutNode(c, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	if f.Layout() == nil {
		t.Fatal("no layout after all nodes")
	}
}

// fetchLeaves sends the wanted leaves from src, from several goroutines.
func fetchLeaves(t *testing.T, src *Store, f *Fetch, want func(i int) bool) {
	t.Helper()
	l := f.Layout()
	var wg sync.WaitGroup
	errs := make(chan error, len(l.Leaves))
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(l.Leaves); i += 4 {
				if !want(i) {
					continue
				}
				b, err := src.Get(context.Background(), l.Leaves[i].Cid)
				if err == nil {
					err = f.PutLeaf(i, b)
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestFetchResumeAfterReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := openStore(t, filepath.Join(dir, "src"))
	defer src.Close()
	data := testData(256*40+13, 20) // 41 leaves, three levels of 4 links
	writeTestFile(t, filepath.Join(dir, "orig"), data)
	r, err := src.AddPath(ctx, filepath.Join(dir, "orig"), small)
	if err != nil {
		t.Fatal(err)
	}

	dst := openStore(t, filepath.Join(dir, "dst"))
	dest := filepath.Join(dir, "downloads", "file")
	f, err := dst.StartFetch(r.Cid, dest, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Layout() != nil || len(f.Missing()) != 1 {
		t.Fatalf("fresh fetch knows %v, misses %v", f.Layout(), f.Missing())
	}
	if err := f.PutLeaf(0, nil); !errors.Is(err, ErrLayoutUnknown) {
		t.Fatalf("leaf before layout: %v", err)
	}
	emptyDir := AppendPBNode(nil, &PBNode{Data: dirData()})
	if err := f.PutNode(sumCID(CodecDagPB, emptyDir), emptyDir); !errors.Is(err, ErrNotWanted) {
		t.Fatalf("unwanted node: %v", err)
	}
	if err := f.PutNode(r.Cid, []byte("forged")); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("forged node: %v", err)
	}
	fetchNodes(t, src, f)
	l := f.Layout()
	if len(l.Leaves) != 41 || l.Size != int64(len(data)) {
		t.Fatalf("layout: %d leaves, size %d", len(l.Leaves), l.Size)
	}

	// A peer sends garbage for leaf 1: refused, nothing written.
	var be *BlockError
	if err := f.PutLeaf(1, bytes.Repeat([]byte{1}, 256)); !errors.Is(err, ErrHashMismatch) || !errors.As(err, &be) || be.Cid != l.Leaves[1].Cid {
		t.Fatalf("bad leaf: %v", err)
	}
	fetchLeaves(t, src, f, func(i int) bool { return i%2 == 0 })
	if have, total := f.Progress(); have != 21 || total != 41 {
		t.Fatalf("progress %d/%d", have, total)
	}
	part := f.Part()
	if part != filepath.Join(dir, "downloads", ".file.myco-part") {
		t.Fatalf("partial path %s", part)
	}
	if got, _ := os.ReadFile(part); !bytes.Equal(got[256:512], make([]byte, 256)) {
		t.Fatal("rejected leaf was written")
	}
	if _, err := os.Lstat(dest); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("destination exists before Finish: %v", err)
	}
	// Leaves on disk are served while the fetch runs.
	if b, err := dst.Get(ctx, l.Leaves[0].Cid); err != nil || !bytes.Equal(b, data[:256]) {
		t.Fatalf("serve during fetch: %v", err)
	}
	if _, err := f.Finish(); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("early finish: %v", err)
	}

	// Crash: the store closes without finishing; leaf 2 rots on disk.
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	fh, err := os.OpenFile(part, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteAt([]byte("rot"), l.Leaves[2].Offset+10); err != nil {
		t.Fatal(err)
	}
	fh.Close()

	dst = openStore(t, filepath.Join(dir, "dst"))
	defer dst.Close()
	inc, err := dst.Incoming()
	if err != nil || len(inc) != 1 || inc[0].Root != r.Cid || inc[0].Dest != dest || inc[0].Part != part {
		t.Fatalf("incoming after reopen: %v %v", inc, err)
	}
	f, err = dst.StartFetch(r.Cid, "", FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Layout() == nil {
		t.Fatal("nodes were not kept across the restart")
	}
	if f.Dest() != dest || f.Part() != part {
		t.Fatalf("resumed into %s via %s", f.Dest(), f.Part())
	}
	have := f.Have()
	if have, _ := f.Progress(); have != 20 {
		t.Fatalf("resumed with %d leaves, want 20 (21 minus the rotten one)", have)
	}
	if have[2] || !have[4] || have[1] {
		t.Fatalf("have %v", have)
	}
	fetchLeaves(t, src, f, func(i int) bool { return !have[i] })
	info, err := f.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if info.Cid != r.Cid || info.Size != uint64(len(data)) || info.Blocks != r.Blocks {
		t.Fatalf("finished %+v, source %+v", info, r)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, data) {
		t.Fatal("destination differs from the source")
	}
	if _, err := os.Lstat(part); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("partial data left after Finish: %v", err)
	}
	if info.Name != "file" {
		t.Fatalf("fetched root named %q", info.Name)
	}
	if !bytes.Equal(cat(t, dst, r.Cid), data) {
		t.Fatal("cat from the fetched root differs")
	}
	if inc, _ := dst.Incoming(); len(inc) != 0 {
		t.Fatalf("incoming after finish: %v", inc)
	}
	if _, err := dst.StartFetch(r.Cid, filepath.Join(dir, "again"), FetchOptions{}); !errors.Is(err, ErrAlreadyKept) {
		t.Fatalf("fetch of a kept root: %v", err)
	}
	if err := dst.Remove(r.Cid); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dest); err != nil {
		t.Fatal("rm deleted the user's file")
	}
}

func TestFetchRawRootAndRejects(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := openStore(t, filepath.Join(dir, "src"))
	defer src.Close()
	data := []byte("one small block")
	r, err := src.AddReader(ctx, bytes.NewReader(data), DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	dst := openStore(t, filepath.Join(dir, "dst"))
	defer dst.Close()

	existing := filepath.Join(dir, "exists")
	writeTestFile(t, existing, []byte("mine"))
	if _, err := dst.StartFetch(r.Cid, existing, FetchOptions{}); !errors.Is(err, ErrDestExists) {
		t.Fatalf("existing destination: %v", err)
	}

	f, err := dst.StartFetch(r.Cid, filepath.Join(dir, "small"), FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l := f.Layout()
	if l == nil || len(l.Leaves) != 1 || l.Leaves[0].Size != -1 {
		t.Fatalf("raw root layout %+v", l)
	}
	if err := f.PutLeaf(0, data); err != nil {
		t.Fatal(err)
	}
	info, err := f.Finish()
	if err != nil || info.Size != uint64(len(data)) {
		t.Fatalf("finish %+v %v", info, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "small")); !bytes.Equal(got, data) {
		t.Fatal("raw root not written")
	}
	if err := f.PutLeaf(0, data); !errors.Is(err, ErrFetchClosed) {
		t.Fatalf("put after finish: %v", err)
	}
}

func TestFetchDirectory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	files := map[string][]byte{
		"a":         testData(2000, 30),
		"sub/b":     []byte("tiny"),
		"sub/empty": nil,
		"zeros":     make([]byte, 256*9), // one leaf CID repeated nine times
	}
	for p, d := range files {
		writeTestFile(t, filepath.Join(dir, "tree", filepath.FromSlash(p)), d)
	}
	src := openStore(t, filepath.Join(dir, "src"))
	defer src.Close()
	r, err := src.AddPath(ctx, filepath.Join(dir, "tree"), small)
	if err != nil {
		t.Fatal(err)
	}
	dst := openStore(t, filepath.Join(dir, "dst"))
	defer dst.Close()
	dest := filepath.Join(dir, "got")
	f, err := dst.StartFetch(r.Cid, dest, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fetchNodes(t, src, f)
	l := f.Layout()
	if l.Size != int64(r.Size) {
		t.Fatalf("layout size %d, want %d", l.Size, r.Size)
	}
	fetchLeaves(t, src, f, func(i int) bool { return true })
	if _, err := f.Finish(); err != nil {
		t.Fatal(err)
	}
	for p, d := range files {
		got, err := os.ReadFile(filepath.Join(dest, filepath.FromSlash(p)))
		if err != nil || !bytes.Equal(got, d) {
			t.Fatalf("%s: %v", p, err)
		}
	}
	out := filepath.Join(dir, "exported")
	if err := dst.Export(ctx, r.Cid, out); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "a")); !bytes.Equal(got, files["a"]) {
		t.Fatal("export of the fetched tree differs")
	}
}
