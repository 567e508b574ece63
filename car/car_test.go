package car

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

type block struct {
	c    cid.Cid
	data []byte
}

func rawBlock(s string) block {
	d := sha256.Sum256([]byte(s))
	h, _ := mh.Encode(d[:], mh.SHA2_256)
	return block{cid.NewCidV1(cid.Raw, h), []byte(s)}
}

func writeCAR(t testing.TB, roots []cid.Cid, blocks []block) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, roots...)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		if err := w.Put(b.c, b.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readAll(r io.Reader) (*Reader, []block, error) {
	cr, err := NewReader(r)
	if err != nil {
		return nil, nil, err
	}
	var out []block
	for {
		c, d, err := cr.Next()
		if err == io.EOF {
			return cr, out, nil
		}
		if err != nil {
			return cr, out, err
		}
		out = append(out, block{c, bytes.Clone(d)})
	}
}

// wrapV2 puts a CARv1 inside a CARv2 with pad bytes before it.
func wrapV2(v1 []byte, pad int) []byte {
	out := []byte{0x0a, 0xa1, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x02}
	var h [40]byte
	binary.LittleEndian.PutUint64(h[16:], uint64(11+40+pad))
	binary.LittleEndian.PutUint64(h[24:], uint64(len(v1)))
	out = append(out, h[:]...)
	out = append(out, make([]byte, pad)...)
	out = append(out, v1...)
	return append(out, "an index that is ignored"...)
}

func TestRoundTripV1AndV2(t *testing.T) {
	var blocks []block
	for i := range 50 {
		blocks = append(blocks, rawBlock(fmt.Sprint("block ", i, string(make([]byte, i*100)))))
	}
	roots := []cid.Cid{blocks[0].c, blocks[7].c}
	v1 := writeCAR(t, roots, blocks)
	for name, file := range map[string][]byte{"v1": v1, "v2": wrapV2(v1, 0), "v2 padded": wrapV2(v1, 13)} {
		t.Run(name, func(t *testing.T) {
			cr, got, err := readAll(bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			if len(cr.Roots) != 2 || cr.Roots[0] != roots[0] || cr.Roots[1] != roots[1] {
				t.Fatalf("roots %v", cr.Roots)
			}
			if want := map[string]int{"v1": 1}[name]; want == 1 && cr.Version != 1 || want == 0 && cr.Version != 2 {
				t.Fatalf("version %d", cr.Version)
			}
			if len(got) != len(blocks) {
				t.Fatalf("%d blocks, want %d", len(got), len(blocks))
			}
			for i := range got {
				if got[i].c != blocks[i].c || !bytes.Equal(got[i].data, blocks[i].data) {
					t.Fatalf("block %d differs", i)
				}
			}
		})
	}
}

// The header is the canonical DAG-CBOR that go-car and js's @ipld/car
// write for one root (spelled out byte by byte from the CAR spec).
func TestHeaderBytes(t *testing.T) {
	b := rawBlock("x")
	h := encodeHeader([]cid.Cid{b.c})
	want := []byte{0xa2, 0x65, 'r', 'o', 'o', 't', 's', 0x81, 0xd8, 0x2a, 0x58, byte(len(b.c.Bytes()) + 1), 0x00}
	want = append(want, b.c.Bytes()...)
	want = append(want, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01)
	if !bytes.Equal(h, want) {
		t.Fatalf("header\n %x\nwant\n %x", h, want)
	}
	// Keys in another order (not canonical, but seen in the wild) read too.
	other := []byte{0xa2, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01, 0x65, 'r', 'o', 'o', 't', 's', 0x81, 0xd8, 0x2a, 0x58, byte(len(b.c.Bytes()) + 1), 0x00}
	other = append(other, b.c.Bytes()...)
	roots, v, err := decodeHeader(other)
	if err != nil || v != 1 || len(roots) != 1 || roots[0] != b.c {
		t.Fatalf("reordered header: %v %d %v", roots, v, err)
	}
}

// Cut anywhere, a CAR either reads as a shorter CAR (cut between
// sections) or fails with ErrTruncated; it never yields a wrong block.
func TestTruncatedEverywhere(t *testing.T) {
	blocks := []block{rawBlock("one"), rawBlock("two two"), rawBlock("three three three")}
	v1 := writeCAR(t, []cid.Cid{blocks[0].c}, blocks)
	for _, file := range [][]byte{v1, wrapV2(v1, 3)} {
		for n := 0; n < len(file); n++ {
			_, got, err := readAll(bytes.NewReader(file[:n]))
			for i, b := range got {
				if b.c != blocks[i].c || !bytes.Equal(b.data, blocks[i].data) {
					t.Fatalf("cut at %d: block %d wrong", n, i)
				}
			}
			if err != nil && !errors.Is(err, ErrTruncated) {
				t.Fatalf("cut at %d: %v, want ErrTruncated", n, err)
			}
		}
	}
}

func TestMalformed(t *testing.T) {
	b := rawBlock("x")
	good := writeCAR(t, []cid.Cid{b.c}, []block{b})
	tests := map[string][]byte{
		"empty header":     {0x00},
		"huge header":      binary.AppendUvarint(nil, MaxHeaderSize+1),
		"not a map":        {0x01, 0x01},
		"no version":       {0x02, 0xa0, 0x00},
		"version 3":        {0x0a, 0xa1, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x03},
		"no roots":         {0x0f, 0xa2, 0x65, 'r', 'o', 'o', 't', 's', 0x80, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01},
		"huge section":     append(bytes.Clone(good[:len(good)-len(b.data)-len(b.c.Bytes())-1]), binary.AppendUvarint(nil, MaxSectionSize+1)...),
		"bad section cid":  append(bytes.Clone(good[:len(good)-len(b.data)-len(b.c.Bytes())-1]), 0x03, 0xff, 0xff, 0xff),
		"indefinite map":   {0x02, 0xbf, 0xff},
		"v2 bad offset":    append([]byte{0x0a, 0xa1, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x02}, make([]byte, 40)...),
		"long varint":      bytes.Repeat([]byte{0xff}, 11),
		"non-minimal len":  {0x80, 0x00},
		"root not a cid":   {0x10, 0xa2, 0x65, 'r', 'o', 'o', 't', 's', 0x81, 0x01, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01},
		"duplicate key":    {0x13, 0xa2, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01},
		"array too long":   {0x03, 0xa1, 0x9a, 0xff},
		"trailing in head": append(append([]byte{byte(len(encodeHeader([]cid.Cid{b.c})) + 1)}, encodeHeader([]cid.Cid{b.c})...), 0x00),
	}
	for name, file := range tests {
		if _, _, err := readAll(bytes.NewReader(file)); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTruncated) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzReader: any input reads without panicking, and what reads back as a
// whole CAR writes out (as v1) to bytes that read back the same.
func FuzzReader(f *testing.F) {
	blocks := []block{rawBlock("a"), rawBlock("bb")}
	v1 := writeCAR(f, []cid.Cid{blocks[0].c}, blocks)
	f.Add(v1)
	f.Add(wrapV2(v1, 2))
	f.Add([]byte{0x0a, 0xa1, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		cr, got, err := readAll(bytes.NewReader(b))
		if err != nil {
			return
		}
		again := writeCAR(t, cr.Roots, got)
		cr2, got2, err := readAll(bytes.NewReader(again))
		if err != nil || len(cr2.Roots) != len(cr.Roots) || len(got2) != len(got) {
			t.Fatalf("re-written CAR reads differently: %v", err)
		}
		for i := range got {
			if got2[i].c != got[i].c || !bytes.Equal(got2[i].data, got[i].data) {
				t.Fatalf("block %d differs after re-writing", i)
			}
		}
	})
}
