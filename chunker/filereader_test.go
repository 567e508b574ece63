package chunker

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"testing"
)

// Reads at random offsets of files of several shapes (one raw leaf, one
// level, three levels) return the file's bytes.
func TestFileReaderSeeks(t *testing.T) {
	for _, n := range []int{0, 100, 256 * 3, 256*17 + 5} {
		data := testData(n, uint64(n))
		e, m := importBytes(t, data, small)
		fr, err := NewFileReader(context.Background(), m, e.Cid)
		if err != nil {
			t.Fatal(err)
		}
		if fr.Size() != int64(n) {
			t.Fatalf("size %d, want %d", fr.Size(), n)
		}
		all, err := io.ReadAll(fr)
		if err != nil || !bytes.Equal(all, data) {
			t.Fatalf("%d bytes: read all: %v", n, err)
		}
		r := rand.New(rand.NewPCG(1, uint64(n)))
		for range 50 {
			off := r.IntN(n + 1)
			l := r.IntN(700)
			if _, err := fr.Seek(int64(off), io.SeekStart); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, l)
			got, err := io.ReadFull(fr, buf)
			want := data[off:min(off+l, n)]
			if !bytes.Equal(buf[:got], want) || (err != nil && got == l) {
				t.Fatalf("%d bytes: read %d at %d: got %d bytes, %v", n, l, off, got, err)
			}
		}
	}
}

// A file node whose blocksizes lie about a leaf is an error, not wrong
// bytes.
func TestFileReaderLyingBlocksizes(t *testing.T) {
	m := newMemSink()
	a, b := []byte("first leaf"), []byte("second")
	ca, cb := sumCID(CodecRaw, a), sumCID(CodecRaw, b)
	m.Leaf(ca, a, 0)
	m.Leaf(cb, b, 0)
	fs := FSData{Type: TypeFile, HasFileSize: true, FileSize: 12, BlockSizes: []uint64{6, 6}}
	node := AppendPBNode(nil, &PBNode{Links: []PBLink{{Hash: ca, Tsize: 10}, {Hash: cb, Tsize: 6}}, Data: AppendFSData(nil, &fs)})
	c := sumCID(CodecDagPB, node)
	m.Node(c, node)
	fr, err := NewFileReader(context.Background(), m, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(fr); err == nil {
		t.Fatal("a leaf longer than declared was read")
	}
}
