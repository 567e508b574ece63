package chunker

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
)

func TestAlignedBuffer(t *testing.T) {
	for _, n := range []int{1, DirectAlign - 1, DirectAlign, 3*DirectAlign + 5, DefaultChunkSize} {
		b := AlignedBuffer(n)
		if len(b) != n || cap(b) != n {
			t.Fatalf("AlignedBuffer(%d): len %d cap %d", n, len(b), cap(b))
		}
		if p := uintptr(unsafe.Pointer(unsafe.SliceData(b))); p%DirectAlign != 0 {
			t.Fatalf("AlignedBuffer(%d) starts at %#x", n, p)
		}
	}
	b := AlignedBuffer(2 * DirectAlign)
	for _, c := range []struct {
		data []byte
		off  int64
		want bool
	}{
		{b, 0, true},
		{b, DirectAlign, true},
		{b, 1, false},
		{b[:DirectAlign+1], 0, false},
		{AlignedBuffer(DirectAlign + 1)[1:], 0, false},
		{nil, 0, false},
	} {
		if got := directOK(c.data, c.off); got != c.want {
			t.Errorf("directOK(len %d, off %d) = %v", len(c.data), c.off, got)
		}
	}
}

// Leaves that can go through the direct descriptor (aligned buffer,
// offset and length) and leaves that cannot (a misaligned buffer, the
// short last leaf) land in the same file, byte for byte.
func TestFetchDirectAndBufferedWrites(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := openStore(t, filepath.Join(dir, "src"))
	defer src.Close()
	p := Params{ChunkSize: 2 * DirectAlign, MaxLinks: 8}
	data := testData(20*p.ChunkSize+1000, 7)
	writeTestFile(t, filepath.Join(dir, "orig"), data)
	r, err := src.AddPath(ctx, filepath.Join(dir, "orig"), p)
	if err != nil {
		t.Fatal(err)
	}
	dst := openStore(t, filepath.Join(dir, "dst"))
	defer dst.Close()
	dest := filepath.Join(dir, "out")
	f, err := dst.StartFetch(r.Cid, dest, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fetchNodes(t, src, f)
	if probe, err := openDirect(f.Part()); err == nil {
		probe.Close()
		if f.direct[0] == nil {
			t.Fatal("the file system takes O_DIRECT but the fetch did not open it")
		}
	} else {
		t.Logf("no direct I/O here (%v): every leaf goes through the page cache", err)
	}
	l := f.Layout()
	for i, lf := range l.Leaves {
		b, err := src.Get(ctx, lf.Cid)
		if err != nil {
			t.Fatal(err)
		}
		var buf []byte
		if i%2 == 0 {
			buf = AlignedBuffer(len(b))
		} else {
			buf = AlignedBuffer(len(b) + 1)[1:]
		}
		copy(buf, b)
		if err := f.PutLeaf(i, buf); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.Finish(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("fetched file differs")
	}
}
