package ledgertest

import (
	"strconv"

	"github.com/myco-p2p/myco/ledger"
)

// Branches is a funded base chain and two competing branches on it, for
// reorganisation and crash tests.
type Branches struct {
	G            *Generator
	Base, A, B   []string
	ReturnedTx   ledger.Hash // on branch A only: must come back to the mempool
	DoubleSpends int
}

// BuildBranches funds four keys, then forks: branch A has depth blocks,
// branch B depth+1. Every block of both spends key 0's next nonce to a
// different recipient (a double spend per height); A's first block also
// holds a key 1 transfer that B lacks.
func BuildBranches(depth int) *Branches {
	p := ledger.NetworkDev.Params()
	g := New(p, 4)
	br := &Branches{G: g}
	parent := "genesis"
	for i := range 4 {
		name := "base" + string(rune('0'+i))
		to := Addr(g.Keys[i])
		g.NextBlock(name, parent, nil, Opts{PayTo: &to})
		br.Base = append(br.Base, name)
		parent = name
	}
	k := g.Keys
	fork := parent
	grow := func(prefix string, n int, to ledger.Address, amount uint64, extra bool) []string {
		var names []string
		par := fork
		for i := range n {
			name := prefix + strconv.Itoa(i)
			txs := []*ledger.Tx{g.Transfer(k[0], to, amount, 100, g.Nonce(par, k[0]))}
			if extra && i == 0 {
				tx := g.Transfer(k[1], Addr(k[3]), 7*ledger.Coin, 100, 0)
				br.ReturnedTx = tx.ID()
				txs = append(txs, tx)
			}
			g.NextBlock(name, par, txs, Opts{})
			names = append(names, name)
			par = name
		}
		return names
	}
	br.A = grow("a", depth, Addr(k[1]), ledger.Coin/10, true)
	br.B = grow("b", depth+1, Addr(k[2]), ledger.Coin/5, false)
	br.DoubleSpends = depth
	return br
}
