package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// HashSize is the length of a block hash or transaction id.
const HashSize = 32

// Hash is a double SHA-256 digest. It is shown and parsed as plain hex in
// byte order (unlike Bitcoin, which reverses it), and read as a big-endian
// number for proof of work, so a harder block shows more leading zeros.
type Hash [HashSize]byte

// String returns h as 64 hex digits.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is all zeros.
func (h Hash) IsZero() bool { return h == Hash{} }

// ParseHash parses 64 hex digits.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*HashSize {
		return h, fmt.Errorf("parse hash %q: %d characters, want %d hex digits", s, len(s), 2*HashSize)
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("parse hash %q: %w", s, err)
	}
	return h, nil
}

// DoubleSHA256 returns SHA-256(SHA-256(b)).
func DoubleSHA256(b []byte) Hash {
	first := sha256.Sum256(b)
	return sha256.Sum256(first[:])
}

// Bytes returns h as a slice.
func (h Hash) Bytes() []byte { return h[:] }
