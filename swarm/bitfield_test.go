package swarm

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

func TestBitfieldSetClearCount(t *testing.T) {
	b := NewBitfield(130)
	if b.Len() != 130 || b.Count() != 0 || b.Complete() {
		t.Fatalf("new bitfield: len %d count %d complete %v", b.Len(), b.Count(), b.Complete())
	}
	for _, i := range []int{0, 63, 64, 129} {
		if !b.Set(i) {
			t.Errorf("Set(%d) on a clear bit returned false", i)
		}
		if b.Set(i) {
			t.Errorf("Set(%d) twice returned true", i)
		}
	}
	if b.Count() != 4 {
		t.Errorf("Count = %d, want 4", b.Count())
	}
	for _, i := range []int{0, 63, 64, 129} {
		if !b.Has(i) {
			t.Errorf("Has(%d) = false after Set", i)
		}
	}
	if b.Has(1) || b.Has(-1) || b.Has(130) {
		t.Error("Has reports bits that were never set or are out of range")
	}
	if !b.Clear(63) || b.Clear(63) || b.Count() != 3 || b.Has(63) {
		t.Errorf("Clear(63): count %d has %v", b.Count(), b.Has(63))
	}
}

func TestBitfieldPanicsOutOfRange(t *testing.T) {
	for _, i := range []int{-1, 10} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Set(%d) on a 10-bit field did not panic", i)
				}
			}()
			NewBitfield(10).Set(i)
		}()
	}
}

func TestFullBitfield(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 65, 1000} {
		b := NewFullBitfield(n)
		if b.Count() != n || !b.Complete() || b.NextMissing(0) != -1 {
			t.Errorf("n=%d: count %d complete %v next missing %d", n, b.Count(), b.Complete(), b.NextMissing(0))
		}
		if n > 0 && (!b.Has(n-1) || b.Has(n)) {
			t.Errorf("n=%d: last bit or spare bit wrong", n)
		}
	}
}

func TestBitfieldNext(t *testing.T) {
	b := NewBitfield(200)
	for _, i := range []int{3, 64, 70, 199} {
		b.Set(i)
	}
	tests := []struct {
		from, set, missing int
	}{
		{-5, 3, 0},
		{0, 3, 0},
		{3, 3, 4},
		{4, 64, 4},
		{64, 64, 65},
		{65, 70, 65},
		{71, 199, 71},
		{199, 199, -1},
		{200, -1, -1},
	}
	for _, tt := range tests {
		if got := b.NextSet(tt.from); got != tt.set {
			t.Errorf("NextSet(%d) = %d, want %d", tt.from, got, tt.set)
		}
		if got := b.NextMissing(tt.from); got != tt.missing {
			t.Errorf("NextMissing(%d) = %d, want %d", tt.from, got, tt.missing)
		}
	}
	full := NewFullBitfield(128)
	full.Clear(127)
	if got := full.NextMissing(0); got != 127 {
		t.Errorf("NextMissing on a field missing only its last bit = %d, want 127", got)
	}
}

func TestBitfieldWireForm(t *testing.T) {
	b := NewBitfield(10)
	b.Set(0)
	b.Set(9)
	want := []byte{0x80, 0x40}
	if got := b.Bytes(); !bytes.Equal(got, want) {
		t.Fatalf("Bytes = %x, want %x (leaf 0 in the high bit)", got, want)
	}
	back, err := BitfieldFromBytes(want, 10)
	if err != nil {
		t.Fatal(err)
	}
	if back.String() != b.String() || back.Count() != 2 {
		t.Errorf("round trip %s (count %d), want %s", back, back.Count(), b)
	}
}

func TestBitfieldRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 8, 9, 64, 100, 1025} {
		b := NewBitfield(n)
		for i := 0; i < n; i++ {
			if rng.IntN(3) == 0 {
				b.Set(i)
			}
		}
		back, err := BitfieldFromBytes(b.Bytes(), n)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if back.String() != b.String() || back.Count() != b.Count() {
			t.Errorf("n=%d: round trip differs", n)
		}
		c := b.Clone()
		if n > 0 {
			c.Set(0)
			c.Clear(0)
			if b.String() != back.String() {
				t.Errorf("n=%d: changing a clone changed the original", n)
			}
		}
	}
}

func TestBitfieldFromBools(t *testing.T) {
	b := BitfieldFromBools([]bool{true, false, false, true, true})
	if b.String() != "10011" || b.Count() != 3 {
		t.Errorf("BitfieldFromBools = %s (count %d), want 10011", b, b.Count())
	}
}

func TestBitfieldFromBytesRejects(t *testing.T) {
	tests := []struct {
		name string
		p    []byte
		n    int
		code ErrorCode
	}{
		{"too short", []byte{0xff}, 9, ErrBadBitfield},
		{"too long", []byte{0xff, 0}, 8, ErrBadBitfield},
		{"spare bit set", []byte{0x01}, 7, ErrBadBitfield},
		{"negative", nil, -1, ErrIndexRange},
		{"too many leaves", nil, MaxLeaves + 1, ErrIndexRange},
	}
	for _, tt := range tests {
		_, err := BitfieldFromBytes(tt.p, tt.n)
		if !errors.Is(err, tt.code) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.code)
		}
	}
}

func BenchmarkBitfieldNextMissing(b *testing.B) {
	const n = 1 << 20
	bf := NewFullBitfield(n)
	bf.Clear(n - 1)
	b.ReportAllocs()
	for b.Loop() {
		if bf.NextMissing(0) != n-1 {
			b.Fatal("wrong result")
		}
	}
}
