package ledger

import "testing"

// solveUpTo tries nonces from hdr.Nonce on, at most tries of them, for one
// that meets the header's proof-of-work rule, the plain way (the midstate
// miner is ledger/miner's, which this package's internal tests cannot
// import). It reports whether it found one; the nonce is then in hdr.
func solveUpTo(hdr *Header, p *Params, tries uint64) bool {
	for range tries {
		if checkProofOfWork(hdr, hdr.Hash(), p) == nil {
			return true
		}
		hdr.Nonce++
	}
	return false
}

// solve finds a nonce for hdr or fails tb.
func solve(tb testing.TB, hdr *Header, p *Params) {
	tb.Helper()
	if !solveUpTo(hdr, p, 1<<32) {
		tb.Fatalf("no nonce found for block %d", hdr.Height)
	}
}
