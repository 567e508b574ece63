package swarm

import (
	"fmt"
	"math/bits"
)

// Bitfield records which leaves of a root a peer holds: bit i is set when
// leaf i is held. It is stored as 64-bit words so that counting and
// searching go a word at a time, and it keeps its population count up to
// date so Count is O(1).
//
// On the wire (see Bytes and BitfieldFromBytes) bit i is the bit
// 0x80>>(i%8) of byte i/8, as in BitTorrent, and the spare bits of the
// last byte are zero.
//
// A Bitfield is not safe for concurrent use.
type Bitfield struct {
	words []uint64
	n     int
	count int
}

// NewBitfield returns an empty bitfield of n leaves. It panics if n is
// negative, like make does.
func NewBitfield(n int) *Bitfield {
	if n < 0 {
		panic("swarm: negative bitfield length")
	}
	return &Bitfield{words: make([]uint64, (n+63)/64), n: n}
}

// NewFullBitfield returns a bitfield of n leaves with every bit set, as a
// seeder announces it.
func NewFullBitfield(n int) *Bitfield {
	b := NewBitfield(n)
	for i := range b.words {
		b.words[i] = ^uint64(0)
	}
	b.clearSpare()
	b.count = n
	return b
}

// BitfieldFromBytes decodes the wire form of a bitfield of n leaves. It
// checks the length and that the spare bits are zero before it allocates.
func BitfieldFromBytes(p []byte, n int) (*Bitfield, error) {
	if n < 0 || n > MaxLeaves {
		return nil, &WireError{Op: "decode bitfield", Code: ErrIndexRange,
			Desc: fmt.Sprintf("%d leaves, at most %d allowed", n, MaxLeaves)}
	}
	if len(p) != (n+7)/8 {
		return nil, &WireError{Op: "decode bitfield", Code: ErrBadBitfield,
			Desc: fmt.Sprintf("%d bytes for %d leaves, want %d", len(p), n, (n+7)/8)}
	}
	if n%8 != 0 && p[len(p)-1]&(0xff>>(n%8)) != 0 {
		return nil, &WireError{Op: "decode bitfield", Code: ErrBadBitfield,
			Desc: "spare bits after the last leaf are set"}
	}
	b := NewBitfield(n)
	for j, c := range p {
		b.words[j/8] |= uint64(bits.Reverse8(c)) << (uint(j%8) * 8)
	}
	for _, w := range b.words {
		b.count += bits.OnesCount64(w)
	}
	return b, nil
}

// BitfieldFromBools returns a bitfield with bit i set where have[i] is true
// (the form chunker.Fetch.Have reports).
func BitfieldFromBools(have []bool) *Bitfield {
	b := NewBitfield(len(have))
	for i, h := range have {
		if h {
			b.Set(i)
		}
	}
	return b
}

// Bytes returns the wire form of b: (Len()+7)/8 bytes, leaf 0 in the high
// bit of the first byte.
func (b *Bitfield) Bytes() []byte {
	return b.AppendBytes(make([]byte, 0, (b.n+7)/8))
}

// AppendBytes appends the wire form of b to dst.
func (b *Bitfield) AppendBytes(dst []byte) []byte {
	nb := (b.n + 7) / 8
	for j := 0; j < nb; j++ {
		dst = append(dst, bits.Reverse8(byte(b.words[j/8]>>(uint(j%8)*8))))
	}
	return dst
}

// Len returns the number of leaves b covers.
func (b *Bitfield) Len() int { return b.n }

// Count returns how many bits are set.
func (b *Bitfield) Count() int { return b.count }

// Complete reports whether every bit is set.
func (b *Bitfield) Complete() bool { return b.count == b.n }

// Has reports whether bit i is set. It returns false for an i out of range.
func (b *Bitfield) Has(i int) bool {
	if i < 0 || i >= b.n {
		return false
	}
	return b.words[i/64]&(1<<(uint(i)%64)) != 0
}

// Set sets bit i and reports whether it was newly set. It panics if i is
// out of range: callers check indexes from the network first.
func (b *Bitfield) Set(i int) bool {
	b.check(i)
	w, m := i/64, uint64(1)<<(uint(i)%64)
	if b.words[w]&m != 0 {
		return false
	}
	b.words[w] |= m
	b.count++
	return true
}

// Clear clears bit i and reports whether it was set. It panics if i is out
// of range.
func (b *Bitfield) Clear(i int) bool {
	b.check(i)
	w, m := i/64, uint64(1)<<(uint(i)%64)
	if b.words[w]&m == 0 {
		return false
	}
	b.words[w] &^= m
	b.count--
	return true
}

// NextSet returns the first set bit at or after from, or -1 if there is none.
func (b *Bitfield) NextSet(from int) int {
	return b.next(from, 0)
}

// NextMissing returns the first clear bit at or after from, or -1 if there is
// none.
func (b *Bitfield) NextMissing(from int) int {
	return b.next(from, ^uint64(0))
}

// next finds the first bit at or after from whose value differs from the
// bits of flip (0 to find set bits, all ones to find clear bits).
func (b *Bitfield) next(from int, flip uint64) int {
	if from < 0 {
		from = 0
	}
	if from >= b.n {
		return -1
	}
	w := from / 64
	word := (b.words[w] ^ flip) &^ (uint64(1)<<(uint(from)%64) - 1)
	for {
		if word != 0 {
			i := w*64 + bits.TrailingZeros64(word)
			if i >= b.n {
				return -1
			}
			return i
		}
		w++
		if w >= len(b.words) {
			return -1
		}
		word = b.words[w] ^ flip
	}
}

// Clone returns an independent copy of b.
func (b *Bitfield) Clone() *Bitfield {
	c := &Bitfield{words: make([]uint64, len(b.words)), n: b.n, count: b.count}
	copy(c.words, b.words)
	return c
}

// String returns b as a string of 0s and 1s, leaf 0 first; for tests and logs
// of small bitfields.
func (b *Bitfield) String() string {
	s := make([]byte, b.n)
	for i := range s {
		s[i] = '0'
		if b.Has(i) {
			s[i] = '1'
		}
	}
	return string(s)
}

func (b *Bitfield) check(i int) {
	if i < 0 || i >= b.n {
		panic(fmt.Sprintf("swarm: bitfield index %d out of range [0,%d)", i, b.n))
	}
}

// clearSpare zeroes the bits past n in the last word.
func (b *Bitfield) clearSpare() {
	if r := b.n % 64; r != 0 {
		b.words[len(b.words)-1] &= uint64(1)<<uint(r) - 1
	}
}
