package chunker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
)

var benchSizes = []int{1 << 20, 16 << 20, 64 << 20}

type discardSink struct{}

func (discardSink) Leaf(cid.Cid, []byte, int64) error { return nil }
func (discardSink) Node(cid.Cid, []byte) error        { return nil }

// BenchmarkSHA256 is the floor every import pays: one core of SHA-256.
func BenchmarkSHA256(b *testing.B) {
	data := testData(1<<20, 1)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		sha256.Sum256(data)
	}
}

// BenchmarkImportDAG builds the DAG from memory, keeping nothing.
func BenchmarkImportDAG(b *testing.B) {
	for _, n := range benchSizes {
		data := testData(n, 2)
		b.Run(fmt.Sprintf("%dMiB", n>>20), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				if _, err := ImportFile(context.Background(), bytes.NewReader(data), DefaultParams(), discardSink{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkShare is `myco share`: a file on disk imported by reference
// into a leveldb store.
func BenchmarkShare(b *testing.B) {
	for _, n := range benchSizes {
		dir := b.TempDir()
		path := filepath.Join(dir, "f")
		writeTestFile(b, path, testData(n, 3))
		s := openStore(b, filepath.Join(dir, "store"))
		b.Run(fmt.Sprintf("%dMiB", n>>20), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				if _, err := s.AddPath(context.Background(), path, DefaultParams()); err != nil {
					b.Fatal(err)
				}
			}
		})
		s.Close()
	}
}

// BenchmarkCat is `myco cat`: every block read back from the shared file,
// verified, and streamed out.
func BenchmarkCat(b *testing.B) {
	for _, n := range benchSizes {
		dir := b.TempDir()
		path := filepath.Join(dir, "f")
		writeTestFile(b, path, testData(n, 4))
		s := openStore(b, filepath.Join(dir, "store"))
		r, err := s.AddPath(context.Background(), path, DefaultParams())
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%dMiB", n>>20), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				if _, err := s.Cat(context.Background(), r.Cid, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
		s.Close()
	}
}

// BenchmarkFetchWrite is the receiving side of a fetch: leaves verified and
// written into the destination, then Finish.
func BenchmarkFetchWrite(b *testing.B) {
	for _, n := range benchSizes {
		dir := b.TempDir()
		src := openStore(b, filepath.Join(dir, "src"))
		data := testData(n, 5)
		r, err := src.AddReader(context.Background(), bytes.NewReader(data), DefaultParams())
		if err != nil {
			b.Fatal(err)
		}
		l, err := src.Leaves(context.Background(), r.Cid)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%dMiB", n>>20), func(b *testing.B) {
			b.SetBytes(int64(n))
			i := 0
			for b.Loop() {
				i++
				dst := openStore(b, filepath.Join(dir, fmt.Sprint("dst", i)))
				f, err := dst.StartFetch(r.Cid, filepath.Join(dir, fmt.Sprint("out", i)), FetchOptions{})
				if err != nil {
					b.Fatal(err)
				}
				for _, c := range f.Missing() {
					blk, _ := src.Get(context.Background(), c)
					if err := f.PutNode(c, blk); err != nil {
						b.Fatal(err)
					}
				}
				for j, lf := range l.Leaves {
					end := lf.Offset + lf.Size
					if lf.Size < 0 { // the root is one raw block
						end = int64(len(data))
					}
					if err := f.PutLeaf(j, data[lf.Offset:end]); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := f.Finish(); err != nil {
					b.Fatal(err)
				}
				dst.Close()
			}
		})
		src.Close()
	}
}

// BenchmarkShareManyFiles is `myco share` of a tree of small files (2 KiB
// each, 100 per folder) into a fresh store, against hashing the same
// files' bytes one by one (reading each, as sha256sum does) on one core.
func BenchmarkShareManyFiles(b *testing.B) {
	for _, n := range []int{5000, 50000} {
		dir := b.TempDir()
		tree := filepath.Join(dir, "tree")
		for i := range n {
			writeTestFile(b, filepath.Join(tree, fmt.Sprintf("d%03d", i/100), fmt.Sprintf("f%05d", i)), testData(2048, uint64(i)))
		}
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			var store, hash time.Duration
			for i := 0; b.Loop(); i++ {
				// The reference first: it also waits out the writeback of
				// the files just made, so both read from the page cache.
				t0 := time.Now()
				if err := filepath.WalkDir(tree, func(p string, d os.DirEntry, err error) error {
					if err != nil || d.IsDir() {
						return err
					}
					data, err := os.ReadFile(p)
					sha256.Sum256(data)
					return err
				}); err != nil {
					b.Fatal(err)
				}
				hash += time.Since(t0)
				s := openStore(b, filepath.Join(dir, fmt.Sprint("store", i)))
				t0 = time.Now()
				if _, err := s.AddPath(context.Background(), tree, DefaultParams()); err != nil {
					b.Fatal(err)
				}
				store += time.Since(t0)
				s.Close()
			}
			b.ReportMetric(float64(n*b.N)/store.Seconds(), "files/s")
			b.ReportMetric(float64(n*b.N)/hash.Seconds(), "sha256-files/s")
		})
	}
}
