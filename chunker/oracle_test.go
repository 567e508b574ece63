package chunker

import (
	"bytes"
	"context"
	"sync"
	"testing"

	bxchunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/merkledag"
	mdtest "github.com/ipfs/boxo/ipld/merkledag/test"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

// This file uses boxo, IPFS's own importer, only as a test oracle: the CIDs
// and block bytes this package makes must be the ones boxo makes.

func boxoParams(ds ipld.DAGService, p Params) helpers.DagBuilderParams {
	return helpers.DagBuilderParams{
		Maxlinks:   p.MaxLinks,
		RawLeaves:  true,
		CidBuilder: cid.V1Builder{Codec: cid.DagProtobuf, MhType: mh.SHA2_256},
		Dagserv:    ds,
	}
}

// boxoImport returns the root boxo's balanced importer makes for data, and
// its DAG service holding every block.
func boxoImport(t testing.TB, data []byte, p Params) (ipld.Node, ipld.DAGService) {
	t.Helper()
	ds := mdtest.Mock()
	return boxoImportInto(t, ds, data, p), ds
}

// boxoImportInto is boxoImport into an existing DAG service.
func boxoImportInto(t testing.TB, ds ipld.DAGService, data []byte, p Params) ipld.Node {
	t.Helper()
	bp := boxoParams(ds, p)
	db, err := bp.New(bxchunker.NewSizeSplitter(bytes.NewReader(data), int64(p.ChunkSize)))
	if err != nil {
		t.Fatal(err)
	}
	nd, err := balanced.Layout(db)
	if err != nil {
		t.Fatal(err)
	}
	return nd
}

// boxoDir builds a directory with boxo from named children, as `ipfs add
// -r` does with the unixfs-v1-2025 profile: a dynamic directory that
// becomes a HAMT when its block would pass 256 KiB.
func boxoDir(t testing.TB, ds ipld.DAGService, kids map[string]ipld.Node) ipld.Node {
	t.Helper()
	ctx := context.Background()
	d, err := uio.NewDirectory(ds,
		uio.WithCidBuilder(cid.V1Builder{Codec: cid.DagProtobuf, MhType: mh.SHA2_256}),
		uio.WithSizeEstimationMode(uio.SizeEstimationBlock))
	if err != nil {
		t.Fatal(err)
	}
	for name, n := range kids {
		if err := d.AddChild(ctx, name, n); err != nil {
			t.Fatal(err)
		}
	}
	nd, err := d.GetNode()
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Add(ctx, nd); err != nil {
		t.Fatal(err)
	}
	return nd
}

// memSink keeps every block in memory, for tests. It may be written from
// several goroutines (ImportDir's file workers).
type memSink struct {
	mu     sync.Mutex
	blocks map[cid.Cid][]byte
	leaves []cid.Cid
	nodes  int
}

func newMemSink() *memSink { return &memSink{blocks: map[cid.Cid][]byte{}} }

func (m *memSink) Leaf(c cid.Cid, data []byte, off int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.blocks[c] = bytes.Clone(data)
	m.leaves = append(m.leaves, c)
	return nil
}

func (m *memSink) Node(c cid.Cid, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.blocks[c] = bytes.Clone(data)
	m.nodes++
	return nil
}

func (m *memSink) Get(_ context.Context, c cid.Cid) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blocks[c]
	if !ok {
		return nil, blockErr("get", c, ErrNotFound)
	}
	if err := Verify(c, b); err != nil {
		return nil, err
	}
	return b, nil
}

// checkAgainstBoxo asserts that every block boxo made for the DAG under
// root exists in m with identical bytes.
func checkAgainstBoxo(t *testing.T, m *memSink, ds ipld.DAGService, root cid.Cid) {
	t.Helper()
	ctx := context.Background()
	seen := map[cid.Cid]bool{}
	var walk func(c cid.Cid)
	walk = func(c cid.Cid) {
		if seen[c] {
			return
		}
		seen[c] = true
		nd, err := ds.Get(ctx, c)
		if err != nil {
			t.Fatalf("boxo get %s: %v", c, err)
		}
		got, ok := m.blocks[c]
		if !ok {
			t.Fatalf("block %s made by boxo is missing from ours", c)
		}
		if !bytes.Equal(got, nd.RawData()) {
			t.Fatalf("block %s differs:\n ours %x\n boxo %x", c, got, nd.RawData())
		}
		if pn, ok := nd.(*merkledag.ProtoNode); ok {
			for _, l := range pn.Links() {
				walk(l.Cid)
			}
		}
	}
	walk(root)
	if len(seen) != len(m.blocks) {
		t.Fatalf("we made %d distinct blocks, boxo %d", len(m.blocks), len(seen))
	}
}
