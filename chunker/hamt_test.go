package chunker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	mdtest "github.com/ipfs/boxo/ipld/merkledag/test"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"

	"github.com/myco-p2p/myco/internal/treecmp"
)

// boxoTree imports the directory at path with boxo alone, as `ipfs add -r`
// with the unixfs-v1-2025 profile does (a dynamic directory that switches
// to a HAMT when its block size would pass 256 KiB), and returns the root
// and the DAG service holding every block.
func boxoTree(t testing.TB, path string, p Params) (ipld.Node, ipld.DAGService) {
	t.Helper()
	ds := mdtest.Mock()
	return boxoTreeInto(t, ds, path, p), ds
}

func boxoTreeInto(t testing.TB, ds ipld.DAGService, path string, p Params) ipld.Node {
	t.Helper()
	ents, err := os.ReadDir(path)
	if err != nil {
		t.Fatal(err)
	}
	kids := map[string]ipld.Node{}
	for _, de := range ents {
		full := filepath.Join(path, de.Name())
		if de.IsDir() {
			kids[de.Name()] = boxoTreeInto(t, ds, full, p)
			continue
		}
		data, err := os.ReadFile(full)
		if err != nil {
			t.Fatal(err)
		}
		kids[de.Name()] = boxoImportInto(t, ds, data, p)
	}
	return boxoDir(t, ds, kids)
}

// importTree imports the directory at path with this package into memory.
func importTree(t testing.TB, path string, p Params) (Entry, *memSink) {
	t.Helper()
	m := newMemSink()
	e, err := ImportDir(context.Background(), path, p, m.fileImporter(p), m)
	if err != nil {
		t.Fatal(err)
	}
	return e, m
}

// fileImporter imports each file into m.
func (m *memSink) fileImporter(p Params) FileImporter {
	return func(ctx context.Context, path string) (Entry, error) {
		f, err := os.Open(path)
		if err != nil {
			return Entry{}, err
		}
		defer f.Close()
		return ImportFile(ctx, f, p, m)
	}
}

// flatDir writes n small files named by name(i) into dir.
func flatDir(t testing.TB, dir string, n int, name func(i int) string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, name(i)), fmt.Appendf(nil, "file %d\n", i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// scriptNames are names in many scripts and forms (precomposed and
// combining accents, right-to-left, CJK, emoji, spaces).
var scriptNames = []string{
	"Ελληνικά", "русский", "中文文件", "العربية", "עברית", "हिन्दी", "日本語のファイル", "한국어",
	"ไทย", "ქართული", "Հայերեն", "🍄 spores", "café", "cafe\u0301", "Ünïcödé", "tab\there",
	"ʃʊŋ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "Ⅻ", "a b c",
}

// sizedNames returns n names for entries of one file such that the basic
// directory node holding them is exactly size bytes, which the test
// checks by encoding it.
func sizedNames(t testing.TB, n, size int, link PBLink) []string {
	t.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("entry-%06d", i)
	}
	encoded := func() int {
		links := make([]PBLink, n)
		for i, nm := range names {
			links[i] = PBLink{Hash: link.Hash, Name: nm, Tsize: link.Tsize}
		}
		return len(AppendPBNode(nil, &PBNode{Links: links, Data: dirData()}))
	}
	// Names grow from the end, keeping them sorted (a suffix of "x" sorts
	// the same as without it); while names and links stay under 128 bytes
	// each added byte adds one byte to the node.
	for i, short := n-1, size-encoded(); short > 0; i, short = (i+n-1)%n, short-1 {
		names[i] += "x"
	}
	if got := encoded(); got != size {
		t.Fatalf("built a %d-byte directory, want %d", got, size)
	}
	return names
}

// TestHAMTVectors checks directory CIDs, and every block, against boxo's
// own importer: flat directories on both sides of the threshold, a tree
// whose one big folder shards, and names in many scripts.
func TestHAMTVectors(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 40,000 files")
	}
	p := DefaultParams()
	oneFile := func() PBLink {
		e, _ := importBytes(t, []byte("same\n"), p)
		return PBLink{Hash: e.Cid, Tsize: e.Tsize}
	}()
	tests := []struct {
		name    string
		make    func(t *testing.T, dir string)
		sharded bool // is the root a HAMT
	}{
		{"flat 1000", func(t *testing.T, dir string) {
			flatDir(t, dir, 1000, func(i int) string { return fmt.Sprintf("file-%05d.txt", i) })
		}, false},
		{"flat 5000", func(t *testing.T, dir string) {
			flatDir(t, dir, 5000, func(i int) string { return fmt.Sprintf("file-%05d.txt", i) })
		}, true},
		{"flat 20000", func(t *testing.T, dir string) {
			flatDir(t, dir, 20000, func(i int) string { return fmt.Sprintf("IMG_%05d.jpg", i) })
		}, true},
		{"tree with one big folder", func(t *testing.T, dir string) {
			writeTestFile(t, filepath.Join(dir, "README"), []byte("photos\n"))
			writeTestFile(t, filepath.Join(dir, "docs", "a.txt"), testData(3000, 7))
			writeTestFile(t, filepath.Join(dir, "docs", "b.txt"), nil)
			flatDir(t, filepath.Join(dir, "photos"), 6000, func(i int) string { return fmt.Sprintf("DSC%05d.JPG", i) })
		}, false},
		{"many scripts", func(t *testing.T, dir string) {
			flatDir(t, dir, 6000, func(i int) string { return fmt.Sprintf("%s %d", scriptNames[i%len(scriptNames)], i) })
		}, true},
		{"just under the threshold", func(t *testing.T, dir string) {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, nm := range sizedNames(t, 4000, MaxDirBlockSize, oneFile) {
				writeTestFile(t, filepath.Join(dir, nm), []byte("same\n"))
			}
		}, false},
		{"just over the threshold", func(t *testing.T, dir string) {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, nm := range sizedNames(t, 4000, MaxDirBlockSize+1, oneFile) {
				writeTestFile(t, filepath.Join(dir, nm), []byte("same\n"))
			}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "d")
			tt.make(t, dir)
			e, m := importTree(t, dir, p)
			nd, ds := boxoTree(t, dir, p)
			if e.Cid != nd.Cid() {
				t.Fatalf("root %s, boxo %s", e.Cid, nd.Cid())
			}
			if sz, _ := nd.Size(); e.Tsize != sz {
				t.Errorf("tsize %d, boxo %d", e.Tsize, sz)
			}
			checkAgainstBoxo(t, m, ds, e.Cid)
			root, err := decodeNode(e.Cid, m.blocks[e.Cid])
			if err != nil {
				t.Fatal(err)
			}
			if got := root.fs.Type == TypeHAMTShard; got != tt.sharded {
				t.Fatalf("root sharded %v, want %v", got, tt.sharded)
			}
			t.Logf("%s: %s, %d blocks", tt.name, e.Cid, e.Blocks)
		})
	}
}

// A sharded tree goes through the store like any other: layout, paths,
// listing, export, and a fetch into a second store.
func TestHAMTStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	writeTestFile(t, filepath.Join(tree, "top.txt"), []byte("top\n"))
	writeTestFile(t, filepath.Join(tree, "big", "sub", "deep.bin"), testData(3000, 9))
	flatDir(t, filepath.Join(tree, "big"), 5000, func(i int) string { return fmt.Sprintf("%s-%d", scriptNames[i%len(scriptNames)], i) })

	src := openStore(t, filepath.Join(dir, "src"))
	defer src.Close()
	r, err := src.AddPath(ctx, tree, small)
	if err != nil {
		t.Fatal(err)
	}

	big, err := ResolvePath(ctx, src, r.Cid, "big")
	if err != nil {
		t.Fatal(err)
	}
	if nd, _ := decodeNode(big, mustGet(t, src, big)); nd.fs.Type != TypeHAMTShard {
		t.Fatal("the big folder did not shard")
	}
	ents, err := DirEntries(ctx, src, big)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 5001 {
		t.Fatalf("%d entries, want 5001", len(ents))
	}
	for _, p := range []string{"big/" + scriptNames[7] + "-7", "/big/sub/deep.bin", "big/Ⅻ-4998"} {
		c, err := ResolvePath(ctx, src, r.Cid, p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		var buf bytes.Buffer
		if _, err := src.Cat(ctx, c, &buf); err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(filepath.Join(tree, filepath.FromSlash(p)))
		if !bytes.Equal(buf.Bytes(), want) {
			t.Fatalf("%s: cat differs", p)
		}
	}
	if _, err := ResolvePath(ctx, src, r.Cid, "big/nope"); !errors.Is(err, ErrNoEntry) {
		t.Fatalf("missing name: %v", err)
	}
	if _, err := ResolvePath(ctx, src, r.Cid, "top.txt/x"); !errors.Is(err, ErrNotDir) {
		t.Fatalf("name in a file: %v", err)
	}

	out := filepath.Join(dir, "exported")
	if err := src.Export(ctx, r.Cid, out); err != nil {
		t.Fatal(err)
	}
	treecmp.Same(t, tree, out)

	dst := openStore(t, filepath.Join(dir, "dst"))
	defer dst.Close()
	f, err := dst.StartFetch(r.Cid, filepath.Join(dir, "fetched"), FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fetchNodes(t, src, f)
	if got := len(f.Layout().Files); got != 5000+5 {
		t.Fatalf("layout lists %d files and folders, want %d", got, 5005)
	}
	fetchLeaves(t, src, f, func(int) bool { return true })
	if _, err := f.Finish(); err != nil {
		t.Fatal(err)
	}
	treecmp.Same(t, tree, filepath.Join(dir, "fetched"))
}

func mustGet(t testing.TB, g Getter, c cid.Cid) []byte {
	t.Helper()
	b, err := g.Get(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A shard that lies is refused: an entry moved to a slot its hash does
// not lead to, a bitfield that disagrees with the links, a wrong hash
// type or fanout.
func TestHAMTRejectsLies(t *testing.T) {
	leaf := sumCID(CodecRaw, []byte("x"))
	shard := func(bf []byte, fanout, hash uint64, links ...PBLink) node {
		d := AppendFSData(nil, &FSData{Type: TypeHAMTShard, Data: bf, HashType: hash, Fanout: fanout})
		b := AppendPBNode(nil, &PBNode{Links: links, Data: d})
		nd, err := decodeNode(sumCID(CodecDagPB, b), b)
		if err != nil {
			t.Fatal(err)
		}
		return nd
	}
	slot := func(name string) int { return int(hamtHash(name) >> 56) }
	bfFor := func(slots ...int) []byte {
		var bf [32]byte
		for _, s := range slots {
			bf[31-s/8] |= 1 << (s % 8)
		}
		b := bf[:]
		for len(b) > 0 && b[0] == 0 {
			b = b[1:]
		}
		return b
	}
	s := slot("a")
	good := shard(bfFor(s), 256, HashMurmur3, PBLink{Hash: leaf, Name: fmt.Sprintf("%02Xa", s), Tsize: 1})
	noLoad := func(cid.Cid) (node, bool, error) { return node{}, false, nil }
	if _, err := walkDir(leaf, good, noLoad, func(PBLink) error { return nil }); err != nil {
		t.Fatalf("good shard: %v", err)
	}
	if l, err := lookupDir(leaf, good, noLoad, "a"); err != nil || l.Hash != leaf {
		t.Fatalf("lookup: %v", err)
	}
	wrong := (s + 1) % 256
	tests := map[string]node{
		"entry in the wrong slot": shard(bfFor(wrong), 256, HashMurmur3, PBLink{Hash: leaf, Name: fmt.Sprintf("%02Xa", wrong)}),
		"bit not set":             shard(bfFor(wrong), 256, HashMurmur3, PBLink{Hash: leaf, Name: fmt.Sprintf("%02Xa", s)}),
		"more bits than links":    shard(bfFor(s, wrong), 256, HashMurmur3, PBLink{Hash: leaf, Name: fmt.Sprintf("%02Xa", s)}),
		"other hash":              shard(bfFor(s), 256, 0x12, PBLink{Hash: leaf, Name: fmt.Sprintf("%02Xa", s)}),
		"fanout not a power of 2": shard(bfFor(s), 200, HashMurmur3, PBLink{Hash: leaf, Name: fmt.Sprintf("%02Xa", s)}),
		"raw sub-shard":           shard(bfFor(s), 256, HashMurmur3, PBLink{Hash: leaf, Name: fmt.Sprintf("%02X", s)}),
		"no slot index":           shard(bfFor(s), 256, HashMurmur3, PBLink{Hash: leaf, Name: "a"}),
		"unsafe name":             shard(bfFor(slot("..")), 256, HashMurmur3, PBLink{Hash: leaf, Name: fmt.Sprintf("%02X..", slot(".."))}),
	}
	for name, nd := range tests {
		if _, err := walkDir(leaf, nd, noLoad, func(PBLink) error { return nil }); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzHAMTShard feeds arbitrary blocks to the HAMT reader: it never
// panics, and every entry a walk yields is found again by a lookup of its
// name.
func FuzzHAMTShard(f *testing.F) {
	// A shard of 300 entries has sub-shards where names collide.
	m := newMemSink()
	leaf := sumCID(CodecRaw, []byte("x"))
	ents := make([]hamtEntry, 300)
	for i := range ents {
		name := fmt.Sprintf("%s-%d", scriptNames[i%len(scriptNames)], i)
		ents[i] = hamtEntry{link: PBLink{Hash: leaf, Name: name, Tsize: 1}, hash: hamtHash(name)}
	}
	root, _, _, err := writeShard(ents, 0, m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(m.blocks[root])
	subShards := 0
	for c, b := range m.blocks {
		if c != root && subShards < 3 {
			f.Add(b)
			subShards++
		}
	}
	f.Add([]byte{0x0a, 0x02, 0x08, 0x05})
	f.Fuzz(func(t *testing.T, b []byte) {
		c := sumCID(CodecDagPB, b)
		nd, err := decodeNode(c, b)
		if err != nil {
			return
		}
		load := func(c cid.Cid) (node, bool, error) {
			sb, ok := m.blocks[c]
			if !ok || c.Type() != CodecDagPB {
				return node{}, false, nil
			}
			n, err := decodeNode(c, sb)
			return n, err == nil, err
		}
		var names []PBLink
		complete, err := walkDir(c, nd, load, func(l PBLink) error {
			if CheckName(l.Name) != nil {
				t.Fatalf("walk yields unsafe name %q", l.Name)
			}
			names = append(names, l)
			return nil
		})
		if err != nil || !complete || nd.fs.Type != TypeHAMTShard {
			return
		}
		for i, l := range names {
			if i > 64 {
				break // enough: each lookup re-reads the shards on its way
			}
			got, err := lookupDir(c, nd, load, l.Name)
			if err != nil {
				t.Fatalf("entry %q walked but not found: %v", l.Name, err)
			}
			if got.Hash != l.Hash {
				t.Fatalf("entry %q: lookup finds %s, walk %s", l.Name, got.Hash, l.Hash)
			}
		}
	})
}
