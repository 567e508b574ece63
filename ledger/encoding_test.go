package ledger_test

import (
	"bytes"
	"crypto/sha256"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/ledger/ledgertest"
)

func sampleTx(t testing.TB) *ledger.Tx {
	g := ledgertest.New(ledger.NetworkDev.Params(), 2)
	tx := g.Transfer(g.Keys[0], ledgertest.Addr(g.Keys[1]), 12345, 67, 8)
	tx.Payload = []byte("memo")
	return ledgertest.Resign(tx, g.Keys[0])
}

func TestTxRoundTripAndSignature(t *testing.T) {
	tx := sampleTx(t)
	enc := tx.Encode()
	if len(enc) != tx.Size() || len(enc) != ledger.TxFixedSize+4 {
		t.Fatalf("encoded %d bytes, Size says %d", len(enc), tx.Size())
	}
	got, err := ledger.DecodeTx(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Encode(), enc) || got.ID() != tx.ID() {
		t.Fatal("round trip changed the transaction")
	}
	if err := got.VerifySignature(); err != nil {
		t.Fatalf("signature: %v", err)
	}
	// The signature covers every field: changing any one breaks it.
	for name, mutate := range map[string]func(*ledger.Tx){
		"chain id":  func(x *ledger.Tx) { x.ChainID++ },
		"kind":      func(x *ledger.Tx) { x.Kind = ledger.TxAnchor },
		"nonce":     func(x *ledger.Tx) { x.Nonce++ },
		"recipient": func(x *ledger.Tx) { x.Recipient[3] ^= 1 },
		"amount":    func(x *ledger.Tx) { x.Amount++ },
		"fee":       func(x *ledger.Tx) { x.Fee++ },
		"payload":   func(x *ledger.Tx) { x.Payload = []byte("meme") },
	} {
		c, _ := ledger.DecodeTx(enc)
		mutate(c)
		if code := ledgertest.RuleCode(c.VerifySignature()); code != ledger.ErrBadSignature {
			t.Errorf("changed %s: verify gives %v, want ErrBadSignature", name, code)
		}
	}
	for cut := 0; cut < len(enc); cut += 7 {
		if _, err := ledger.DecodeTx(enc[:cut]); ledgertest.RuleCode(err) != ledger.ErrMalformed {
			t.Errorf("truncated to %d: %v", cut, err)
		}
	}
}

func TestMerkleRoot(t *testing.T) {
	h := func(b byte) ledger.Hash { return sha256.Sum256([]byte{b}) }
	a, b, c := h(1), h(2), h(3)
	leaf := func(x ledger.Hash) ledger.Hash { return sha256.Sum256(append([]byte{0}, x[:]...)) }
	node := func(l, r ledger.Hash) ledger.Hash {
		return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
	}
	if got := ledger.MerkleRoot([]ledger.Hash{a}); got != leaf(a) {
		t.Error("one leaf: root is not the tagged leaf hash")
	}
	want := node(node(leaf(a), leaf(b)), leaf(c))
	if got := ledger.MerkleRoot([]ledger.Hash{a, b, c}); got != want {
		t.Error("three leaves: odd leaf must be carried up, not paired with itself")
	}
	// CVE-2012-2459: repeating the last id must change the root.
	if ledger.MerkleRoot([]ledger.Hash{a, b, c}) == ledger.MerkleRoot([]ledger.Hash{a, b, c, c}) {
		t.Error("[a b c] and [a b c c] share a root")
	}
	// A leaf can never stand in for an inner node.
	if ledger.MerkleRoot([]ledger.Hash{a, b}) == ledger.MerkleRoot([]ledger.Hash{node(leaf(a), leaf(b))}) {
		t.Error("an inner node passes for a leaf")
	}
	if !ledger.MerkleRoot(nil).IsZero() {
		t.Error("empty root is not zero")
	}
}

func TestNextBitsASERT(t *testing.T) {
	p := ledger.NetworkDev.Params()
	ms := p.BlockInterval.Milliseconds()
	half := p.ASERTHalfLife.Milliseconds()
	genesis := ledger.CompactToBig(p.GenesisBits)
	// A chain whose block 1 came long after the genesis timestamp: the
	// retarget counts from block 1, not from genesis.
	anchor := p.GenesisTime + 300*24*3600*1000
	ratio := func(bits uint32) float64 {
		f, _ := new(big.Rat).SetFrac(ledger.CompactToBig(bits), genesis).Float64()
		return f
	}
	for _, tc := range []struct {
		name         string
		height       uint64
		time         int64
		lo, hi       float64
		wantPowLimit bool
	}{
		{"on schedule", 100, anchor + 99*ms, 0.999, 1.001, false},
		{"one half-life late", 100, anchor + 99*ms + half, 1.99, 2.01, false},
		{"one half-life early", 100, anchor + 99*ms - half, 0.49, 0.51, false},
		{"half a half-life late", 10, anchor + 9*ms + half/2, 1.41, 1.42, false},
		{"ten half-lives early", 1000, anchor + 999*ms - 10*half, 0.00097, 0.00098, false},
		{"block 1 carries the genesis bits", 0, anchor + 1000*half, 1, 1, false},
		{"far too late", 5, anchor + 1000*half, 0, 0, true},
		{"absurd timestamp", 5, 1 << 62, 0, 0, true},
	} {
		bits := ledger.NextBits(p, anchor, tc.height, tc.time)
		if tc.wantPowLimit {
			if bits != p.PowLimitBits {
				t.Errorf("%s: bits %#x, want the limit %#x", tc.name, bits, p.PowLimitBits)
			}
			continue
		}
		if r := ratio(bits); r < tc.lo || r > tc.hi {
			t.Errorf("%s: target ratio %.5f, want in [%v, %v]", tc.name, r, tc.lo, tc.hi)
		}
	}
	// Very early blocks never push the target to zero.
	if bits := ledger.NextBits(p, anchor, 1<<40, anchor); ledger.CompactToBig(bits).Sign() <= 0 {
		t.Errorf("target collapsed to %#x", bits)
	}
	// Work of a harder target is larger.
	if ledger.Work(0x1f07ffff).Cmp(ledger.Work(0x1f0fffff)) <= 0 {
		t.Error("work does not grow with difficulty")
	}
	// Work = 2^256/(target+1): for the dev genesis target 0x0fffff<<224 that is 4096.
	if w := ledger.Work(p.GenesisBits); w.Int64() != 4096 {
		t.Errorf("genesis work %s, want 4096", w)
	}
}

func TestAnchorPayload(t *testing.T) {
	c := ledgertest.TestCID("hello")
	salt := bytes.Repeat([]byte{7}, ledger.SaltSize)
	for _, a := range []ledger.Anchor{
		{CID: c},
		{CID: c, Name: "abc"},
		{CID: c, Name: "docs-2026"},
		{CID: c, Name: strings.Repeat("z", ledger.MaxNameLen)},
		{CID: c, Name: "my-name", Salt: salt},
	} {
		b, err := a.Encode()
		if err != nil {
			t.Fatalf("encode %+v: %v", a, err)
		}
		got, err := ledger.DecodeAnchor(b)
		if err != nil || !got.CID.Equals(c) || got.Name != a.Name || !bytes.Equal(got.Salt, a.Salt) {
			t.Fatalf("round trip of %+v: %+v %v", a, got, err)
		}
	}
	for _, bad := range [][]byte{nil, {0}, {40, 1, 2}, append([]byte{3}, 1, 2, 3)} {
		if _, err := ledger.DecodeAnchor(bad); err == nil {
			t.Errorf("DecodeAnchor(%x) accepted", bad)
		}
	}
	// Names are 3 to 63 lower-case letters, digits and '-'; nothing else.
	for _, name := range []string{"ab", strings.Repeat("a", ledger.MaxNameLen+1), c.String(), "Abc", "a_b", "a.b", "docs/readme", "a b", "ünï", "a\nb"} {
		if _, err := (ledger.Anchor{CID: c, Name: name}).Encode(); err == nil {
			t.Errorf("name %q accepted", name)
		}
		raw := c.Bytes()
		b := append(append(append([]byte{byte(len(raw))}, raw...), byte(len(name))), name...)
		if _, err := ledger.DecodeAnchor(b); err == nil {
			t.Errorf("DecodeAnchor accepted the name %q", name)
		}
	}
	// A salt needs a name and is exactly SaltSize bytes.
	for _, a := range []ledger.Anchor{{CID: c, Salt: salt}, {CID: c, Name: "abc", Salt: salt[:31]}, {CID: c, Name: "abc", Salt: []byte{}}} {
		if _, err := a.Encode(); err == nil {
			t.Errorf("anchor %+v accepted", a)
		}
	}
	good, _ := ledger.Anchor{CID: c, Name: "abc", Salt: salt}.Encode()
	if _, err := ledger.DecodeAnchor(good[:len(good)-1]); err == nil {
		t.Error("short salt decoded")
	}
	if _, err := ledger.DecodeAnchor(append(good, 0)); err == nil {
		t.Error("long salt decoded")
	}
}

func FuzzDecodeAnchor(f *testing.F) {
	c := ledgertest.TestCID("seed")
	for _, a := range []ledger.Anchor{{CID: c}, {CID: c, Name: "abc"}, {CID: c, Name: "with-salt", Salt: make([]byte, ledger.SaltSize)}} {
		b, err := a.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ledger.DecodeAnchor(b)
		if err != nil {
			return
		}
		// The encoding is canonical: what decodes re-encodes to the same bytes.
		enc, err := a.Encode()
		if err != nil {
			t.Fatalf("decoded anchor does not encode: %v", err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("re-encoding differs: %x, was %x", enc, b)
		}
	})
}

func FuzzDecodeTx(f *testing.F) {
	f.Add(sampleTx(f).Encode())
	f.Add(make([]byte, ledger.TxFixedSize))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := ledger.DecodeTx(b)
		if err != nil {
			if ledgertest.RuleCode(err) != ledger.ErrMalformed {
				t.Fatalf("decode error is not ErrMalformed: %v", err)
			}
			return
		}
		// The encoding is canonical: what decodes re-encodes to the same bytes.
		if !bytes.Equal(tx.Encode(), b) {
			t.Fatalf("re-encoding differs")
		}
		_ = tx.VerifySignature() // must not panic on any input
	})
}

func FuzzDecodeBlock(f *testing.F) {
	s := ledgertest.ConsensusTests()
	for _, name := range []string{"genesis", "b6", "b8"} {
		f.Add(s.G.Block(name).Encode())
	}
	f.Add([]byte{})
	f.Add(make([]byte, ledger.HeaderSize+4))
	p := ledgertest.ScriptParams()
	f.Fuzz(func(t *testing.T, b []byte) {
		blk, err := ledger.DecodeBlock(b, p.MaxBlockSize)
		if err != nil {
			if c := ledgertest.RuleCode(err); c != ledger.ErrMalformed && c != ledger.ErrBlockTooBig {
				t.Fatalf("decode error has code %v: %v", c, err)
			}
			return
		}
		if !bytes.Equal(blk.Encode(), b) {
			t.Fatalf("re-encoding differs")
		}
		// Whatever decodes can be offered to a chain without a panic.
		c, err := ledger.OpenChain(ledger.Config{Params: p, Store: ledger.NewMemStore()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.ProcessBlock(blk, time.UnixMilli(p.GenesisTime))
	})
}
