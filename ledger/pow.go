package ledger

import "math/big"

// CompactToBig expands Bitcoin's compact "bits" form of a target: the top
// byte is a base-256 exponent, the low 23 bits the mantissa and bit 23 its
// sign. A negative result means the bits are malformed.
func CompactToBig(bits uint32) *big.Int {
	mantissa := int64(bits & 0x007fffff)
	exponent := uint(bits >> 24)
	n := big.NewInt(mantissa)
	if exponent <= 3 {
		n.Rsh(n, 8*(3-exponent))
	} else {
		n.Lsh(n, 8*(exponent-3))
	}
	if bits&0x00800000 != 0 {
		n.Neg(n)
	}
	return n
}

// BigToCompact returns the compact form of a non-negative target, rounding
// down to the 3 most significant bytes.
func BigToCompact(n *big.Int) uint32 {
	if n.Sign() <= 0 {
		return 0
	}
	exponent := uint((n.BitLen() + 7) / 8)
	var mantissa uint32
	if exponent <= 3 {
		mantissa = uint32(n.Uint64()) << (8 * (3 - exponent))
	} else {
		mantissa = uint32(new(big.Int).Rsh(n, 8*(exponent-3)).Uint64())
	}
	// Bit 23 is the sign: shift one more byte into the exponent if set.
	if mantissa&0x00800000 != 0 {
		mantissa >>= 8
		exponent++
	}
	return uint32(exponent)<<24 | mantissa
}
