package ledger

import (
	"testing"
)

func TestGenesisProofOfWork(t *testing.T) {
	for _, n := range []Network{NetworkMain, NetworkDev} {
		p := n.Params()
		g := p.Genesis()
		if _, err := checkBlockSanity(g, p); err != nil {
			hdr := g.Header
			hdr.Nonce = 0
			ok := solveUpTo(&hdr, p, 1<<26)
			t.Fatalf("%s genesis: %v (a valid nonce is %d, found=%v)", n, err, hdr.Nonce, ok)
		}
	}
	if NetworkMain.Params().Genesis().Hash() == NetworkDev.Params().Genesis().Hash() {
		t.Fatal("main and dev share a genesis block")
	}
}
