package ledgertest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"math/big"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/ledger/miner"
)

// Generator builds blocks on named parents and tracks the account state
// after each named block with its own simple model of the rules (not the
// ledger's code), so tests compare two implementations.
type Generator struct {
	P      *ledger.Params
	Miner  *btcec.PrivateKey
	Keys   []*btcec.PrivateKey
	blocks map[string]*ledger.Block
	names  map[ledger.Hash]string
	states map[string]map[ledger.Address]ledger.Account
	// The modelled anchor indexes after each named block: name records by
	// name, first anchors by CID string.
	records map[string]map[string]ledger.NameRecord
	firsts  map[string]map[string]ledger.AnchorProof
	// The modelled payment channels after each named block, by id.
	chans map[string]map[ledger.Hash]ledger.Channel
}

// New returns a generator whose only block is "genesis". Keys are
// deterministic so failures reproduce.
func New(p *ledger.Params, nkeys int) *Generator {
	g := &Generator{
		P:      p,
		blocks: make(map[string]*ledger.Block),
		names:  make(map[ledger.Hash]string),
		states: make(map[string]map[ledger.Address]ledger.Account),

		records: make(map[string]map[string]ledger.NameRecord),
		firsts:  make(map[string]map[string]ledger.AnchorProof),
		chans:   make(map[string]map[ledger.Hash]ledger.Channel),
	}
	g.Miner = DeterministicKey(0)
	for i := range nkeys {
		g.Keys = append(g.Keys, DeterministicKey(i+1))
	}
	gen := p.Genesis()
	g.blocks["genesis"] = gen
	g.names[gen.Hash()] = "genesis"
	g.states["genesis"] = map[ledger.Address]ledger.Account{}
	g.records["genesis"] = map[string]ledger.NameRecord{}
	g.firsts["genesis"] = map[string]ledger.AnchorProof{}
	g.chans["genesis"] = map[ledger.Hash]ledger.Channel{}
	return g
}

// DeterministicKey returns the i-th test key.
func DeterministicKey(i int) *btcec.PrivateKey {
	var b [32]byte
	b[0] = 0x42
	b[30] = byte(i >> 8)
	b[31] = byte(i) + 1
	k, _ := btcec.PrivKeyFromBytes(b[:])
	return k
}

// Addr returns the address of a key.
func Addr(k *btcec.PrivateKey) ledger.Address { return ledger.AddressFromPubKey(k.PubKey()) }

// Block returns the named block; it panics on an unknown name (a bug in
// the test script).
func (g *Generator) Block(name string) *ledger.Block {
	b, ok := g.blocks[name]
	if !ok {
		panic(fmt.Sprintf("ledgertest: no block named %q", name))
	}
	return b
}

// Name returns the name of a generated block, or "" if unknown.
func (g *Generator) Name(h ledger.Hash) string { return g.names[h] }

// State returns the modelled accounts after the named block (do not modify).
func (g *Generator) State(name string) map[ledger.Address]ledger.Account {
	g.Block(name)
	return g.states[name]
}

// Nonce returns the modelled next nonce of k after the named block.
func (g *Generator) Nonce(name string, k *btcec.PrivateKey) uint64 {
	return g.State(name)[Addr(k)].Nonce
}

// Transfer returns a signed transfer.
func (g *Generator) Transfer(from *btcec.PrivateKey, to ledger.Address, amount, fee, nonce uint64) *ledger.Tx {
	tx := &ledger.Tx{ChainID: g.P.ChainID, Kind: ledger.TxTransfer, Nonce: nonce, Recipient: to, Amount: amount, Fee: fee}
	if err := tx.Sign(from); err != nil {
		panic(err)
	}
	return tx
}

// Anchor returns a signed anchor of a (a claim needs a.Salt, see Salt).
func (g *Generator) Anchor(from *btcec.PrivateKey, a ledger.Anchor, fee, nonce uint64) *ledger.Tx {
	payload, err := a.Encode()
	if err != nil {
		panic(err)
	}
	tx := &ledger.Tx{ChainID: g.P.ChainID, Kind: ledger.TxAnchor, Nonce: nonce, Fee: fee, Payload: payload}
	return Resign(tx, from)
}

// Salt returns a deterministic salt for from's commitment to name.
func Salt(name string, from *btcec.PrivateKey) []byte {
	a := Addr(from)
	h := sha256.Sum256(append([]byte("ledgertest salt "+name), a[:]...))
	return h[:]
}

// NameCommit returns a signed commitment by from to name with Salt(name, from).
func (g *Generator) NameCommit(from *btcec.PrivateKey, name string, fee, nonce uint64) *ledger.Tx {
	h := ledger.NameCommitment(name, Salt(name, from), Addr(from))
	tx := &ledger.Tx{ChainID: g.P.ChainID, Kind: ledger.TxNameCommit, Nonce: nonce, Fee: fee, Payload: h[:]}
	return Resign(tx, from)
}

// Names returns the modelled name records after the named block, by name
// (do not modify).
func (g *Generator) Names(name string) map[string]ledger.NameRecord {
	g.Block(name)
	return g.records[name]
}

// Anchors returns the modelled first anchors after the named block, by
// CID string (do not modify).
func (g *Generator) Anchors(name string) map[string]ledger.AnchorProof {
	g.Block(name)
	return g.firsts[name]
}

// Resign signs tx again with k after a test changed it.
func Resign(tx *ledger.Tx, k *btcec.PrivateKey) *ledger.Tx {
	if err := tx.Sign(k); err != nil {
		panic(err)
	}
	return tx
}

// Opts change how NextBlock builds a block.
type Opts struct {
	// PayTo receives the coinbase (default: the generator's miner key).
	PayTo *ledger.Address
	// TimeDelta is added to the parent's time (default: one block interval).
	TimeDelta *int64
	// Txs, if set, runs on the block after the coinbase is added and
	// before the merkle root is computed.
	Txs func(b *ledger.Block)
	// Header, if set, runs after the merkle root and before solving.
	Header func(h *ledger.Header)
	// BadPoW makes the block's hash miss its target.
	BadPoW bool
}

// NextBlock builds, solves and names a block on parent holding txs after a
// coinbase that pays the subsidy plus the fees.
func (g *Generator) NextBlock(name, parent string, txs []*ledger.Tx, o Opts) *ledger.Block {
	if _, dup := g.blocks[name]; dup {
		panic(fmt.Sprintf("ledgertest: block name %q reused", name))
	}
	par := g.Block(parent)
	height := par.Header.Height + 1
	payTo := Addr(g.Miner)
	if o.PayTo != nil {
		payTo = *o.PayTo
	}
	var fees uint64
	for _, tx := range txs {
		fees += tx.Fee
	}
	cb := &ledger.Tx{ChainID: g.P.ChainID, Kind: ledger.TxCoinbase, Nonce: height, Recipient: payTo, Amount: g.P.Subsidy(height) + fees}
	delta := g.P.BlockInterval.Milliseconds()
	if o.TimeDelta != nil {
		delta = *o.TimeDelta
	}
	blk := &ledger.Block{
		Header: ledger.Header{
			Version:  ledger.BlockVersion,
			Height:   height,
			PrevHash: par.Hash(),
			Time:     par.Header.Time + delta,
			Bits:     ledger.NextBits(g.P, g.anchorTime(par), par.Header.Height, par.Header.Time),
		},
		Txs: append([]*ledger.Tx{cb}, txs...),
	}
	if o.Txs != nil {
		o.Txs(blk)
	}
	blk.Header.MerkleRoot = ledger.MerkleRoot(blk.TxIDs())
	if o.Header != nil {
		o.Header(&blk.Header)
	}
	g.solve(&blk.Header, o.BadPoW)
	g.blocks[name] = blk
	g.names[blk.Hash()] = name
	g.states[name] = model(g.states[parent], blk)
	g.states[name], g.chans[name] = modelChannels(g.states[name], g.chans[parent], blk)
	g.records[name], g.firsts[name] = modelAnchors(g.records[parent], g.firsts[parent], blk)
	return blk
}

// solve finds a nonce meeting the header's target (or, with bad, missing it).
func (g *Generator) solve(h *ledger.Header, bad bool) {
	target := ledger.CompactToBig(h.Bits)
	if target.Sign() <= 0 || target.Cmp(g.P.PowLimit) > 0 {
		target = g.P.PowLimit // the block is meant to fail on its bits; any nonce will do
	}
	if !bad {
		p := *g.P
		p.PowLimit = new(big.Int).Lsh(big.NewInt(1), 256)
		p.PowLimitBits = 0x2100ffff
		hdr := *h
		hdr.Bits = ledger.BigToCompact(target)
		if ok, err := miner.Solve(context.Background(), &hdr, &p, 0, 1, 0, nil); !ok || err != nil {
			panic(fmt.Sprintf("ledgertest: solve: %v", err))
		}
		h.Nonce = hdr.Nonce
		return
	}
	for h.Nonce = 0; ledger.HashMeetsTarget(h.Hash(), target); h.Nonce++ {
	}
}

// model applies a block to a copy of accounts the simple way, ignoring
// errors (a block meant to be invalid gets a state nobody will compare).
func model(prev map[ledger.Address]ledger.Account, blk *ledger.Block) map[ledger.Address]ledger.Account {
	s := maps.Clone(prev)
	var coinbases []*ledger.Tx
	for _, tx := range blk.Txs {
		if tx.Kind == ledger.TxCoinbase {
			coinbases = append(coinbases, tx) // credited last
			continue
		}
		from := tx.SenderAddress()
		a := s[from]
		a.Balance -= tx.Amount + tx.Fee
		a.Nonce++
		s[from] = a
		if tx.Kind == ledger.TxTransfer {
			r := s[tx.Recipient]
			r.Balance += tx.Amount
			s[tx.Recipient] = r
		}
	}
	for _, cb := range coinbases {
		r := s[cb.Recipient]
		r.Balance += cb.Amount
		s[cb.Recipient] = r
	}
	for a, acc := range s {
		if acc == (ledger.Account{}) {
			delete(s, a)
		}
	}
	return s
}

// modelAnchors applies a block's anchors to copies of the name records and
// first anchors the simple way: the first anchor of a CID stays; a name
// goes to its first claimant, and later anchors of it by the owner move
// it. It trusts the block (commitments are not modelled): a block meant to
// be invalid gets indexes nobody will compare.
func modelAnchors(prevNames map[string]ledger.NameRecord, prevFirsts map[string]ledger.AnchorProof, blk *ledger.Block) (map[string]ledger.NameRecord, map[string]ledger.AnchorProof) {
	names, firsts := maps.Clone(prevNames), maps.Clone(prevFirsts)
	h := blk.Header.Height
	for _, tx := range blk.Txs {
		if tx.Kind != ledger.TxAnchor {
			continue
		}
		a, err := ledger.DecodeAnchor(tx.Payload)
		if err != nil {
			continue
		}
		from, id := tx.SenderAddress(), tx.ID()
		if _, ok := firsts[a.CID.String()]; !ok {
			firsts[a.CID.String()] = ledger.AnchorProof{CID: a.CID, Height: h, Block: blk.Hash(), Time: blk.Header.Time, TxID: id, Owner: from}
		}
		if a.Name == "" {
			continue
		}
		rec, ok := names[a.Name]
		switch {
		case !ok:
			names[a.Name] = ledger.NameRecord{Name: a.Name, CID: a.CID, Owner: from, Height: h, TxID: id, Claimed: h}
		case rec.Owner == from:
			rec.CID, rec.Height, rec.TxID = a.CID, h, id
			names[a.Name] = rec
		}
	}
	return names, firsts
}

// anchorTime is the timestamp of the block at height 1 on b's branch (the
// ASERT anchor), or 0 for genesis.
func (g *Generator) anchorTime(b *ledger.Block) int64 {
	for b.Header.Height > 1 {
		b = g.blocks[g.names[b.Header.PrevHash]]
	}
	if b.Header.Height == 0 {
		return 0
	}
	return b.Header.Time
}
