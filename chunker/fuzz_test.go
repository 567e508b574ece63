package chunker

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
)

func FuzzDecodePBNode(f *testing.F) {
	leaf := sumCID(CodecRaw, []byte("x"))
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x02, 0x08, 0x01})
	f.Add(AppendPBNode(nil, &PBNode{Links: []PBLink{{Hash: leaf, Name: "a", Tsize: 1}}, Data: dirData()}))
	f.Add(AppendPBNode(nil, &PBNode{Links: []PBLink{{Hash: leaf, Tsize: 300}, {Hash: leaf, Tsize: 1 << 40}},
		Data: AppendFSData(nil, &FSData{Type: TypeFile, HasFileSize: true, FileSize: 300, BlockSizes: []uint64{256, 44}})}))
	f.Add([]byte{0x0a, 0x00, 0x12, 0x00}) // data before links
	f.Add([]byte{0x12, 0x05, 0x0a, 0x03, 0x01, 0x55, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := DecodePBNode(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes (canonically) to something that
		// decodes to the same node.
		again, err := DecodePBNode(AppendPBNode(nil, n))
		if err != nil {
			t.Fatalf("re-encoded node does not decode: %v", err)
		}
		if len(again.Links) != len(n.Links) || !bytes.Equal(again.Data, n.Data) || (again.Data == nil) != (n.Data == nil) {
			t.Fatal("re-encoded node differs")
		}
		for i := range n.Links {
			if again.Links[i] != n.Links[i] {
				t.Fatalf("link %d differs", i)
			}
		}
		if n.Data != nil {
			if d, err := DecodeFSData(n.Data); err == nil {
				re, err := DecodeFSData(AppendFSData(nil, d))
				if err != nil || re.Type != d.Type || re.FileSize != d.FileSize || len(re.BlockSizes) != len(d.BlockSizes) || !bytes.Equal(re.Data, d.Data) {
					t.Fatalf("unixfs re-encode: %v", err)
				}
			}
		}
	})
}

func FuzzDecodeFSData(f *testing.F) {
	f.Add([]byte{0x08, 0x01})
	f.Add([]byte{0x08, 0x02, 0x18, 0xac, 0x02, 0x20, 0x80, 0x02, 0x20, 0x2c})
	f.Add([]byte{0x08, 0x02, 0x22, 0x02, 0x80, 0x02}) // packed blocksizes
	f.Add([]byte{0x08, 0x04, 0x12, 0x03, 'a', '/', 'b'})
	f.Add([]byte{0x38, 0xa4, 0x03, 0x42, 0x02, 0x08, 0x01, 0x08, 0x01}) // mode, mtime
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeFSData(b)
		if err != nil {
			return
		}
		re, err := DecodeFSData(AppendFSData(nil, d))
		if err != nil || re.Type != d.Type || re.FileSize != d.FileSize || re.HasFileSize != d.HasFileSize ||
			len(re.BlockSizes) != len(d.BlockSizes) || !bytes.Equal(re.Data, d.Data) {
			t.Fatalf("re-encode: %v", err)
		}
	})
}

// The index records decode without panicking, and whatever decodes
// re-encodes (in the current version) to the same record.
func FuzzDecodeRecords(f *testing.F) {
	f.Add(rootRecord{Owner: 3, Size: 10, Blocks: 1, Kind: kindFile, Name: "a.txt", Broken: "gone"}.encode())
	f.Add([]byte{1, kindDir, 1, 2, 3})
	f.Add(incomingRecord{Owner: 9, Dest: "/d/f", Part: "/d/.f.myco-part", Force: true}.encode())
	f.Add(append([]byte{0x85, 0x01}, "/old/dest"...))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := decodeRootRecord(b); err == nil {
			if again, err := decodeRootRecord(r.encode()); err != nil || again != r {
				t.Fatalf("root record %+v re-decodes as %+v (%v)", r, again, err)
			}
		}
		if r, err := decodeIncomingRecord(b); err == nil && !r.Legacy {
			if again, err := decodeIncomingRecord(r.encode()); err != nil || again != r {
				t.Fatalf("incoming record %+v re-decodes as %+v (%v)", r, again, err)
			}
		}
	})
}

func FuzzParseCID(f *testing.F) {
	f.Add("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
	f.Add("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
	f.Add("")
	f.Add("bafyzzzzzzz")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCID(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedCID) {
				t.Fatalf("ParseCID(%q) error %v is not ErrMalformedCID", s, err)
			}
			if strings.Contains(err.Error(), "invalid cid: invalid cid") {
				t.Fatalf("ParseCID(%q) = %q repeats itself", s, err)
			}
			return
		}
		// What parses is defined and its binary form decodes back to it.
		back, err := cid.Cast(c.Bytes())
		if !c.Defined() || err != nil || !back.Equals(c) {
			t.Fatalf("ParseCID(%q) = %s, whose bytes decode as %v, %v", s, c, back, err)
		}
	})
}
