package ledger

import (
	"math/big"
	"testing"
)

func TestCompactRoundTrip(t *testing.T) {
	for _, bits := range []uint32{0x1d00ffff, 0x1e0fffff, 0x1f0fffff, 0x207fffff, 0x03123456, 0x04123456, 0x1b0404cb} {
		n := CompactToBig(bits)
		if got := BigToCompact(n); got != bits {
			t.Errorf("BigToCompact(CompactToBig(%#x)) = %#x", bits, got)
		}
	}
	// 0x80 in the top mantissa byte would read as a sign: it moves to the exponent.
	if got := BigToCompact(big.NewInt(0x80)); got != 0x02008000 {
		t.Errorf("BigToCompact(0x80) = %#x, want 0x02008000", got)
	}
	if CompactToBig(0x04923456).Sign() >= 0 {
		t.Error("sign bit not honoured")
	}
}
