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

// TargetFromBits returns the target of bits if it is positive and no
// easier than the network's PowLimit.
func TargetFromBits(bits uint32, p *Params) (*big.Int, error) {
	target := CompactToBig(bits)
	// The target must be positive and at most the network's PowLimit.
	if target.Sign() <= 0 || target.Cmp(p.PowLimit) > 0 {
		return nil, ruleErr(ErrBadTarget, "bits %#08x give target %x outside (0, %x]", bits, target, p.PowLimit)
	}
	return target, nil
}

// HashMeetsTarget reports whether h, read as a big-endian number, is at
// most target.
func HashMeetsTarget(h Hash, target *big.Int) bool {
	return new(big.Int).SetBytes(h[:]).Cmp(target) <= 0
}

// checkProofOfWork checks a header's hash against the target its bits state.
func checkProofOfWork(h *Header, hash Hash, p *Params) error {
	target, err := TargetFromBits(h.Bits, p)
	if err != nil {
		return err
	}
	// The block hash must be at most the target its bits state.
	if !HashMeetsTarget(hash, target) {
		return ruleErr(ErrHighHash, "block %s is above its target %064x", hash, target)
	}
	return nil
}

// Work returns the expected number of hashes to find a block with the given
// bits: 2^256 / (target + 1). Malformed bits count as no work.
func Work(bits uint32) *big.Int {
	target := CompactToBig(bits)
	if target.Sign() <= 0 {
		return new(big.Int)
	}
	two256 := new(big.Int).Lsh(big.NewInt(1), 256)
	return two256.Div(two256, target.Add(target, big.NewInt(1)))
}

// NextBits returns the bits a block must carry whose parent is at
// parentHeight with timestamp parentTime (Unix ms). It is per-block ASERT
// (aserti3-2d as Bitcoin Cash specifies it) anchored at the first block
// after genesis, whose timestamp is anchorTime:
//
//	target = genesis_target * 2^((parentTime - anchorTime - interval*(parentHeight-1)) / halfLife)
//
// so the difficulty stays put while blocks arrive on schedule and halves or
// doubles for every half-life they fall behind or run ahead. Block 1 itself
// carries the genesis bits. Anchoring at block 1 rather than at genesis
// matters: the genesis timestamp is fixed when the network is defined, and a
// chain started months later would otherwise count itself months behind
// schedule and mine at the easiest target until it caught up. 2^x is
// evaluated in 16.16 fixed point with Bitcoin Cash's cubic approximation, so
// every node computes the same bits without floating point.
func NextBits(p *Params, anchorTime int64, parentHeight uint64, parentTime int64) uint32 {
	if parentHeight == 0 {
		return p.GenesisBits
	}
	interval := big.NewInt(p.BlockInterval.Milliseconds())
	halfLife := big.NewInt(p.ASERTHalfLife.Milliseconds())

	// exponent = (timeDiff - interval*heightDiff) * 65536 / halfLife, floored.
	exp := new(big.Int).Sub(big.NewInt(parentTime), big.NewInt(anchorTime))
	exp.Sub(exp, new(big.Int).Mul(interval, new(big.Int).SetUint64(parentHeight-1)))
	exp.Lsh(exp, 16)
	exp.Div(exp, halfLife) // Euclidean division: floor for a positive divisor

	// Split into whole shifts and a 16-bit fraction; clamp the shifts so an
	// absurd timestamp cannot make us allocate a huge number.
	shifts := new(big.Int).Rsh(exp, 16) // arithmetic: floor
	frac := new(big.Int).Sub(exp, new(big.Int).Lsh(shifts, 16)).Uint64()
	const maxShift = 512
	s := int64(maxShift)
	if shifts.IsInt64() && shifts.Int64() < maxShift && shifts.Int64() > -maxShift {
		s = shifts.Int64()
	} else if shifts.Sign() < 0 {
		s = -maxShift
	}

	// factor = 65536 * 2^(frac/65536), approximated by a cubic.
	f := new(big.Int).SetUint64(frac)
	poly := new(big.Int).Mul(big.NewInt(195766423245049), f)
	f2 := new(big.Int).Mul(f, f)
	poly.Add(poly, new(big.Int).Mul(big.NewInt(971821376), f2))
	poly.Add(poly, new(big.Int).Mul(big.NewInt(5127), new(big.Int).Mul(f2, f)))
	poly.Add(poly, new(big.Int).Lsh(big.NewInt(1), 47))
	poly.Rsh(poly, 48)
	factor := poly.Add(poly, big.NewInt(65536))

	target := new(big.Int).Mul(CompactToBig(p.GenesisBits), factor)
	if s < 0 {
		target.Rsh(target, uint(-s))
	} else {
		target.Lsh(target, uint(s))
	}
	target.Rsh(target, 16)
	if target.Sign() == 0 {
		target.SetInt64(1)
	}
	if target.Cmp(p.PowLimit) > 0 {
		return p.PowLimitBits
	}
	return BigToCompact(target)
}
