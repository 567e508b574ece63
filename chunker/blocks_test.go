package chunker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/myco-p2p/myco/car"
	"github.com/myco-p2p/myco/internal/treecmp"
)

// exportCAR writes root's DAG from s as a CARv1.
func exportCAR(t testing.TB, s *Store, root cid.Cid) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := car.NewWriter(&buf, root)
	if err != nil {
		t.Fatal(err)
	}
	if err := WalkDAG(context.Background(), s, root, w.Put); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func importCAR(s *Store, b []byte) ([]RootInfo, error) {
	cr, err := car.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return s.ImportBlocks(context.Background(), cr.Roots, cr.Next)
}

// A tree (with a sharded folder, a repeated leaf, a symlink) goes out as
// a CAR in DAG order and comes back whole into another store.
func TestCARRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	writeTestFile(t, filepath.Join(tree, "big.bin"), testData(256*40+3, 5))
	writeTestFile(t, filepath.Join(tree, "zeros"), make([]byte, 256*6))
	flatDir(t, filepath.Join(tree, "many"), 5000, func(i int) string { return fmt.Sprintf("f%05d", i) })
	src := openStore(t, filepath.Join(dir, "src"))
	defer src.Close()
	r, err := src.AddPath(ctx, tree, small)
	if err != nil {
		t.Fatal(err)
	}
	b := exportCAR(t, src, r.Cid)

	// DAG order: the root first, each node before its children, each
	// block once.
	cr, _ := car.NewReader(bytes.NewReader(b))
	seen := map[cid.Cid]bool{}
	for first := true; ; first = false {
		c, _, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if first && c != r.Cid {
			t.Fatalf("first block %s, want the root", c)
		}
		if seen[c] {
			t.Fatalf("block %s twice", c)
		}
		seen[c] = true
	}
	if uint64(len(seen)) > r.Blocks {
		t.Fatalf("%d blocks in the CAR, the import made %d", len(seen), r.Blocks)
	}

	dst := openStore(t, filepath.Join(dir, "dst"))
	defer dst.Close()
	roots, err := importCAR(dst, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(roots) != 1 || roots[0].Cid != r.Cid || roots[0].Size != r.Size || !roots[0].Dir {
		t.Fatalf("imported %+v, shared %+v", roots, r)
	}
	out := filepath.Join(dir, "out")
	if err := dst.Export(ctx, r.Cid, out); err != nil {
		t.Fatal(err)
	}
	treecmp.Same(t, tree, out)
	if again := exportCAR(t, dst, r.Cid); !bytes.Equal(again, b) {
		t.Fatal("the imported DAG exports to other bytes")
	}
	// Removing the root frees every block.
	if err := dst.Remove(r.Cid); err != nil {
		t.Fatal(err)
	}
	storeIsEmpty(t, dst)
}

// A corrupt, truncated or incomplete CAR keeps nothing.
func TestCARImportRejects(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := openStore(t, filepath.Join(dir, "src"))
	defer src.Close()
	writeTestFile(t, filepath.Join(dir, "f"), testData(256*20, 6))
	r, err := src.AddPath(ctx, filepath.Join(dir, "f"), small)
	if err != nil {
		t.Fatal(err)
	}
	good := exportCAR(t, src, r.Cid)

	flipped := bytes.Clone(good)
	flipped[len(flipped)-5] ^= 1 // inside the last leaf
	var noLastBlock []byte
	{
		cr, _ := car.NewReader(bytes.NewReader(good))
		var buf bytes.Buffer
		w, _ := car.NewWriter(&buf, cr.Roots...)
		var blocks []struct {
			c cid.Cid
			d []byte
		}
		for {
			c, d, err := cr.Next()
			if err != nil {
				break
			}
			blocks = append(blocks, struct {
				c cid.Cid
				d []byte
			}{c, bytes.Clone(d)})
		}
		for _, bl := range blocks[:len(blocks)-1] {
			w.Put(bl.c, bl.d)
		}
		w.Flush()
		noLastBlock = buf.Bytes()
	}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"a flipped bit", flipped, ErrHashMismatch},
		{"cut inside a block", good[:len(good)-100], car.ErrTruncated},
		{"a block left out", noLastBlock, ErrDAGIncomplete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := openStore(t, filepath.Join(t.TempDir(), "dst"))
			defer dst.Close()
			if _, err := importCAR(dst, tt.b); !errors.Is(err, tt.want) {
				t.Fatalf("import: %v, want %v", err, tt.want)
			}
			storeIsEmpty(t, dst)
		})
	}
}
