package chunker

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func testData(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func importBytes(t testing.TB, data []byte, p Params) (Entry, *memSink) {
	t.Helper()
	m := newMemSink()
	e, err := ImportFile(context.Background(), bytes.NewReader(data), p, m)
	if err != nil {
		t.Fatal(err)
	}
	return e, m
}

// Known vectors. The CIDs were computed by hand from the specs (sha2-256 of
// the raw bytes for single blocks; for trees, the dag-pb bytes spelled out
// in TestTwoLevelBytes) and each is also checked against boxo's importer.
func TestKnownVectors(t *testing.T) {
	small := Params{ChunkSize: 256, MaxLinks: 4}
	tests := []struct {
		name   string
		data   []byte
		p      Params
		want   string
		blocks int
	}{
		{"empty", nil, DefaultParams(), "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", 1},
		{"hello", []byte("hello world\n"), DefaultParams(), "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4", 1},
		{"one chunk", bytes.Repeat([]byte{'a'}, 256), small, "", 1},
		{"one chunk plus one byte", bytes.Repeat([]byte{'a'}, 257), small, "", 3},
		{"four leaves, one level", bytes.Repeat([]byte{'b'}, 1024), small, "", 5},
		{"two levels", testData(256*5+7, 1), small, "", 6 + 2 + 1},
		{"three levels", testData(256*17, 2), small, "", 17 + 5 + 2 + 1},
		{"legacy profile, 3 chunks", testData(3*LegacyChunkSize-1, 3), LegacyParams(), "", 4},
		{"default profile, 2 chunks", testData(DefaultChunkSize+1, 4), DefaultParams(), "", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, m := importBytes(t, tt.data, tt.p)
			nd, ds := boxoImport(t, tt.data, tt.p)
			if e.Cid != nd.Cid() {
				t.Fatalf("root %s, boxo %s", e.Cid, nd.Cid())
			}
			if tt.want != "" && e.Cid.String() != tt.want {
				t.Fatalf("root %s, want %s", e.Cid, tt.want)
			}
			if e.Blocks != tt.blocks {
				t.Errorf("blocks %d, want %d", e.Blocks, tt.blocks)
			}
			if e.Size != uint64(len(tt.data)) {
				t.Errorf("size %d, want %d", e.Size, len(tt.data))
			}
			if sz, _ := nd.Size(); e.Tsize != sz {
				t.Errorf("tsize %d, boxo %d", e.Tsize, sz)
			}
			checkAgainstBoxo(t, m, ds, e.Cid)
		})
	}
}

// TestTwoLevelBytes spells out the dag-pb bytes of a root over two leaves
// from the DAG-PB and UnixFS specs, independently of the encoder.
func TestTwoLevelBytes(t *testing.T) {
	p := Params{ChunkSize: 256, MaxLinks: 4}
	data := bytes.Repeat([]byte{'a'}, 300)
	e, m := importBytes(t, data, p)
	l0 := sumCID(CodecRaw, data[:256]).Bytes()
	l1 := sumCID(CodecRaw, data[256:]).Bytes()
	var want []byte
	// PBNode.Links (field 2): Hash(1) = 36-byte CID, Name(2) = "", Tsize(3).
	want = append(want, 0x12, 0x2b, 0x0a, 0x24)
	want = append(want, l0...)
	want = append(want, 0x12, 0x00, 0x18, 0x80, 0x02) // Tsize 256
	want = append(want, 0x12, 0x2a, 0x0a, 0x24)
	want = append(want, l1...)
	want = append(want, 0x12, 0x00, 0x18, 0x2c) // Tsize 44
	// PBNode.Data (field 1): UnixFS {Type: File(2), filesize 300, blocksizes 256, 44}.
	want = append(want, 0x0a, 0x0a, 0x08, 0x02, 0x18, 0xac, 0x02, 0x20, 0x80, 0x02, 0x20, 0x2c)
	if got := m.blocks[e.Cid]; !bytes.Equal(got, want) {
		t.Fatalf("root bytes\n got %x\nwant %x", got, want)
	}
	if e.Cid != sumCID(CodecDagPB, want) {
		t.Fatal("root CID is not the hash of the spelled-out bytes")
	}
	if e.Tsize != uint64(len(want))+300 {
		t.Fatalf("tsize %d", e.Tsize)
	}
}

func TestImportMatchesBoxoManySizes(t *testing.T) {
	p := Params{ChunkSize: 256, MaxLinks: 3}
	for _, n := range []int{1, 255, 256, 257, 511, 512, 513, 768, 769, 2303, 2304, 2305, 6912, 6913, 20000} {
		data := testData(n, uint64(n))
		e, m := importBytes(t, data, p)
		nd, ds := boxoImport(t, data, p)
		if e.Cid != nd.Cid() {
			t.Fatalf("size %d: root %s, boxo %s", n, e.Cid, nd.Cid())
		}
		checkAgainstBoxo(t, m, ds, e.Cid)
	}
}

func TestParamsValidate(t *testing.T) {
	bad := []Params{{ChunkSize: 0, MaxLinks: 10}, {ChunkSize: 255, MaxLinks: 10}, {ChunkSize: MaxChunkSize + 1, MaxLinks: 10},
		{ChunkSize: 1024, MaxLinks: 1}, {ChunkSize: 1024, MaxLinks: MaxMaxLinks + 1}}
	for _, p := range bad {
		if _, err := ImportFile(context.Background(), bytes.NewReader(nil), p, newMemSink()); !errors.Is(err, ErrBadParams) {
			t.Errorf("%+v: err %v, want ErrBadParams", p, err)
		}
	}
	for _, p := range []Params{DefaultParams(), LegacyParams(), {ChunkSize: MinChunkSize, MaxLinks: MinMaxLinks}} {
		if err := p.Validate(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
}

func TestEmptyDirectoryVector(t *testing.T) {
	dir := t.TempDir()
	m := newMemSink()
	e, err := ImportDir(context.Background(), dir, DefaultParams(), nil, m)
	if err != nil {
		t.Fatal(err)
	}
	// dag-pb {Data: UnixFS {Type: Directory}} = 0a 02 08 01: the well-known
	// empty directory of IPFS.
	if got := e.Cid.String(); got != "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354" {
		t.Fatalf("empty dir %s", got)
	}
}

func writeTestFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
