package ledgertest

import (
	"math/big"
	"sort"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
	"github.com/myco-p2p/myco/ledger"
)

// Outcome is what a chain must do with a test's block or transaction.
type Outcome int

const (
	// MainChain: the block is accepted onto the main chain.
	MainChain Outcome = iota
	// SideChain: the block is stored on a branch with no more work.
	SideChain
	// Orphan: the block waits for its parent.
	Orphan
	// Rejected: the block or raw bytes break a rule (Code says which).
	Rejected
	// TxAccepted: the transaction enters the mempool.
	TxAccepted
	// TxRejected: the mempool refuses the transaction (Code says why).
	TxRejected
)

// Test is one step of a script: exactly one of Block, Raw (block bytes to
// decode) and Tx is set.
type Test struct {
	Name  string
	Block *ledger.Block
	Raw   []byte
	Tx    *ledger.Tx
	Want  Outcome
	Code  ledger.ErrorCode
	// Tip names the block that must be the tip afterwards.
	Tip string
	// Now is the receiver's clock for the step.
	Now time.Time
	// Mempool, when not negative, is the number of pending transactions
	// there must be afterwards.
	Mempool int
}

// Script is a generated consensus test: the parameters and mempool policy
// the chain must use and the steps to replay in order.
type Script struct {
	G       *Generator
	Mempool ledger.MempoolConfig
	Tests   []Test
}

// ScriptParams returns the parameters of ConsensusTests: the dev network
// with small limits, so size rules are cheap to break.
func ScriptParams() *ledger.Params {
	p := ledger.NetworkDev.Params()
	p.MaxBlockTxs = 40
	p.MaxBlockSize = 8 << 10
	p.MaxPayload = 300
	return p
}

type scripter struct {
	g     *Generator
	tests []Test
	tip   string
	now   int64
}

func (s *scripter) add(t Test) {
	if t.Block != nil && t.Block.Header.Time > s.now && t.Want != Rejected {
		s.now = t.Block.Header.Time
	}
	if t.Now.IsZero() {
		t.Now = time.UnixMilli(s.now)
	}
	if t.Tip == "" {
		t.Tip = s.tip
	}
	s.tests = append(s.tests, t)
}

func (s *scripter) accept(name, parent string, txs []*ledger.Tx, o Opts) *ledger.Block {
	b := s.g.NextBlock(name, parent, txs, o)
	s.tip = name
	s.add(Test{Name: name, Block: b, Want: MainChain, Mempool: -1})
	return b
}

func (s *scripter) reject(name string, code ledger.ErrorCode, txs []*ledger.Tx, o Opts) *ledger.Block {
	b := s.g.NextBlock(name, s.tip, txs, o)
	s.add(Test{Name: name, Block: b, Want: Rejected, Code: code, Mempool: -1})
	return b
}

func (s *scripter) txOK(name string, tx *ledger.Tx, pending int) {
	s.add(Test{Name: name, Tx: tx, Want: TxAccepted, Mempool: pending})
}

func (s *scripter) txBad(name string, tx *ledger.Tx, code ledger.ErrorCode) {
	s.add(Test{Name: name, Tx: tx, Want: TxRejected, Code: code, Mempool: -1})
}

// MedianTime returns the median timestamp of the named block and its
// ancestors, as the ledger's rule counts it.
func (g *Generator) MedianTime(name string) int64 {
	var times []int64
	for b := g.Block(name); len(times) < g.P.MedianTimeBlocks; {
		times = append(times, b.Header.Time)
		if b.Header.Height == 0 {
			break
		}
		b = g.Block(g.Name(b.Header.PrevHash))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	return times[len(times)/2]
}

func i64(v int64) *int64 { return &v }

// TestCID returns a CIDv1 raw sha2-256 of data.
func TestCID(data string) cid.Cid {
	mh, err := multihash.Sum([]byte(data), multihash.SHA2_256, -1)
	if err != nil {
		panic(err)
	}
	return cid.NewCidV1(cid.Raw, mh)
}

// ConsensusTests scripts valid and invalid blocks and transactions, at
// least one rejection per rule, with the outcome a correct chain gives.
func ConsensusTests() *Script {
	p := ScriptParams()
	g := New(p, 8)
	s := &scripter{g: g, tip: "genesis", now: p.GenesisTime}
	k := g.Keys
	coin := ledger.Coin

	// Fund keys 0-4 with one coinbase each, then move some coins.
	parent := "genesis"
	for i := range 5 {
		name := "fund" + string(rune('1'+i))
		to := Addr(k[i])
		s.accept(name, parent, nil, Opts{PayTo: &to})
		parent = name
	}
	s.accept("b6", "fund5", []*ledger.Tx{g.Transfer(k[0], Addr(k[1]), coin, 10, 0)}, Opts{})

	// Invalid blocks on b6; each is rejected and the tip stays b6.
	n0 := g.Nonce("b6", k[0])
	t0 := func(amount uint64) *ledger.Tx { return g.Transfer(k[0], Addr(k[5]), amount, 10, n0) }
	hdr := func(f func(h *ledger.Header)) Opts { return Opts{Header: f} }
	txs := func(f func(b *ledger.Block)) Opts { return Opts{Txs: f} }
	many := func(n, payload int) []*ledger.Tx {
		var out []*ledger.Tx
		for i := range n {
			tx := &ledger.Tx{ChainID: p.ChainID, Kind: ledger.TxTransfer, Nonce: n0 + uint64(i), Recipient: Addr(k[5]), Amount: 1, Fee: 1, Payload: make([]byte, payload)}
			out = append(out, Resign(tx, k[0]))
		}
		return out
	}
	modified := func(f func(tx *ledger.Tx), signer *btcec.PrivateKey) []*ledger.Tx {
		tx := t0(coin)
		f(tx)
		if signer != nil {
			Resign(tx, signer)
		}
		return []*ledger.Tx{tx}
	}

	s.reject("bad-version", ledger.ErrBadVersion, nil, hdr(func(h *ledger.Header) { h.Version = 2 }))
	s.reject("bits-negative", ledger.ErrBadTarget, nil, hdr(func(h *ledger.Header) { h.Bits = 0x1f8fffff }))
	s.reject("bits-above-limit", ledger.ErrBadTarget, nil, hdr(func(h *ledger.Header) { h.Bits = 0x2100ffff }))
	s.reject("bits-zero", ledger.ErrBadTarget, nil, hdr(func(h *ledger.Header) { h.Bits = 0 }))
	s.reject("high-hash", ledger.ErrHighHash, nil, Opts{BadPoW: true})
	s.reject("no-txs", ledger.ErrNoTxs, nil, txs(func(b *ledger.Block) { b.Txs = nil }))
	s.reject("too-many-txs", ledger.ErrTooManyTxs, many(p.MaxBlockTxs, 0), Opts{})
	s.reject("too-big", ledger.ErrBlockTooBig, many(20, p.MaxPayload), Opts{})
	s.reject("payload-too-big", ledger.ErrPayloadTooBig, many(1, p.MaxPayload+1), Opts{})
	s.reject("first-not-coinbase", ledger.ErrFirstTxNotCoinbase, []*ledger.Tx{t0(coin)}, txs(func(b *ledger.Block) { b.Txs = b.Txs[1:] }))
	s.reject("two-coinbases", ledger.ErrMultipleCoinbases, nil, txs(func(b *ledger.Block) {
		cb2 := *b.Txs[0]
		cb2.Amount = 1
		b.Txs = append(b.Txs, &cb2)
	}))
	s.reject("coinbase-with-fee", ledger.ErrBadCoinbase, nil, txs(func(b *ledger.Block) { b.Txs[0].Fee = 1 }))
	s.reject("coinbase-with-sender", ledger.ErrBadCoinbase, nil, txs(func(b *ledger.Block) { b.Txs[0].Sender[0] = 2 }))
	s.reject("coinbase-wrong-height", ledger.ErrCoinbaseHeight, nil, txs(func(b *ledger.Block) { b.Txs[0].Nonce++ }))
	dup := t0(coin)
	s.reject("duplicate-tx", ledger.ErrDuplicateTx, []*ledger.Tx{dup, dup}, Opts{})
	s.reject("bad-merkle-root", ledger.ErrBadMerkleRoot, []*ledger.Tx{t0(coin)}, hdr(func(h *ledger.Header) { h.MerkleRoot[0] ^= 1 }))
	s.reject("wrong-chain-id", ledger.ErrWrongChainID, modified(func(tx *ledger.Tx) { tx.ChainID = ledger.NetworkMain.Params().ChainID }, k[0]), Opts{})
	s.reject("unknown-kind", ledger.ErrUnknownTxKind, modified(func(tx *ledger.Tx) { tx.Kind = 9 }, k[0]), Opts{})
	s.reject("zero-amount", ledger.ErrZeroAmount, modified(func(tx *ledger.Tx) { tx.Amount = 0 }, k[0]), Opts{})
	s.reject("zero-recipient", ledger.ErrBadRecipient, modified(func(tx *ledger.Tx) { tx.Recipient = ledger.Address{} }, k[0]), Opts{})
	s.reject("anchor-with-amount", ledger.ErrBadAnchor, modified(func(tx *ledger.Tx) {
		tx.Kind = ledger.TxAnchor
		tx.Recipient = ledger.Address{}
		tx.Payload, _ = ledger.Anchor{CID: TestCID("x")}.Encode()
	}, k[0]), Opts{})
	s.reject("anchor-bad-payload", ledger.ErrBadAnchor, modified(func(tx *ledger.Tx) {
		tx.Kind = ledger.TxAnchor
		tx.Recipient = ledger.Address{}
		tx.Amount = 0
		tx.Payload = []byte{5, 1, 2, 3}
	}, k[0]), Opts{})
	s.reject("amount-fee-overflow", ledger.ErrOverflow, modified(func(tx *ledger.Tx) { tx.Amount, tx.Fee = ^uint64(0), 1 }, k[0]), Opts{})
	s.reject("bad-height", ledger.ErrBadHeight, nil, txs(func(b *ledger.Block) { b.Header.Height++; b.Txs[0].Nonce++ }))
	s.reject("unexpected-bits", ledger.ErrUnexpectedBits, nil, hdr(func(h *ledger.Header) {
		h.Bits = ledger.BigToCompact(new(big.Int).Rsh(ledger.CompactToBig(h.Bits), 1))
	}))
	mtp := g.MedianTime("b6")
	s.reject("time-at-median", ledger.ErrTimeTooOld, nil, Opts{TimeDelta: i64(mtp - g.Block("b6").Header.Time)})
	drift := p.MaxFutureDrift.Milliseconds()
	tooNew := g.NextBlock("time-too-new", "b6", nil, Opts{TimeDelta: i64(1000 + drift + 1)})
	s.add(Test{Name: "time-too-new", Block: tooNew, Want: Rejected, Code: ledger.ErrTimeTooNew, Now: time.UnixMilli(g.Block("b6").Header.Time + 1000), Mempool: -1})
	s.reject("bad-pubkey", ledger.ErrBadPubKey, modified(func(tx *ledger.Tx) {
		for i := range tx.Sender {
			tx.Sender[i] = 0xff // x >= field prime: no such point
		}
	}, nil), Opts{})
	s.reject("bad-signature", ledger.ErrBadSignature, modified(func(tx *ledger.Tx) { tx.Sig[10] ^= 1 }, nil), Opts{})
	s.reject("signed-by-other-key", ledger.ErrBadSignature, modified(func(tx *ledger.Tx) {
		other := *tx
		Resign(&other, k[1])
		tx.Sig = other.Sig
	}, nil), Opts{})
	s.reject("nonce-too-high", ledger.ErrBadNonce, []*ledger.Tx{g.Transfer(k[0], Addr(k[5]), coin, 10, n0+1)}, Opts{})
	s.reject("replayed-tx", ledger.ErrBadNonce, []*ledger.Tx{g.Block("b6").Txs[1]}, Opts{})
	s.reject("overspend", ledger.ErrInsufficientBalance, []*ledger.Tx{g.Transfer(k[2], Addr(k[5]), 50*coin, 1, 0)}, Opts{})
	s.reject("overspend-cumulative", ledger.ErrInsufficientBalance, []*ledger.Tx{
		g.Transfer(k[2], Addr(k[5]), 30*coin, 1, 0), g.Transfer(k[2], Addr(k[5]), 20*coin, 1, 1)}, Opts{})
	fresh := Addr(k[6])
	s.reject("spend-own-coinbase", ledger.ErrInsufficientBalance, []*ledger.Tx{g.Transfer(k[6], Addr(k[5]), 1, 1, 0)}, Opts{PayTo: &fresh})
	s.reject("coinbase-overpays", ledger.ErrBadCoinbaseAmount, nil, txs(func(b *ledger.Block) { b.Txs[0].Amount++ }))
	s.reject("coinbase-without-fees", ledger.ErrBadCoinbaseAmount, []*ledger.Tx{t0(coin)}, txs(func(b *ledger.Block) { b.Txs[0].Amount -= 10 }))
	s.add(Test{Name: "child-of-invalid", Block: g.NextBlock("child-of-invalid", "nonce-too-high", nil, Opts{}), Want: Rejected, Code: ledger.ErrInvalidAncestor, Mempool: -1})
	s.add(Test{Name: "known-invalid-again", Block: g.Block("nonce-too-high"), Want: Rejected, Code: ledger.ErrInvalidAncestor, Mempool: -1})
	raw := g.Block("b6").Encode()
	s.add(Test{Name: "raw-truncated", Raw: raw[:len(raw)-1], Want: Rejected, Code: ledger.ErrMalformed, Mempool: -1})
	s.add(Test{Name: "raw-trailing", Raw: append(append([]byte(nil), raw...), 0), Want: Rejected, Code: ledger.ErrMalformed, Mempool: -1})
	s.add(Test{Name: "raw-too-big", Raw: make([]byte, p.MaxBlockSize+1), Want: Rejected, Code: ledger.ErrBlockTooBig, Mempool: -1})

	// Orphans, side branches and reorganisations.
	b7 := g.NextBlock("b7", "b6", nil, Opts{})
	// b8 spends k1's nonce 0, which s7 on the other branch spends too (a
	// double spend across branches), and k2's nonce 0, which only b8 has.
	b8 := g.NextBlock("b8", "b7", []*ledger.Tx{g.Transfer(k[1], Addr(k[5]), coin, 10, 0), g.Transfer(k[2], Addr(k[5]), coin, 10, 0)}, Opts{})
	s.add(Test{Name: "b8-orphan", Block: b8, Want: Orphan, Mempool: -1})
	s.tip = "b8"
	s.add(Test{Name: "b7-adopts-b8", Block: b7, Want: MainChain, Mempool: -1})
	// s7-s9 fork at b6; s8 ties b8 (first seen wins), s9 takes over.
	s7 := g.NextBlock("s7", "b6", []*ledger.Tx{g.Transfer(k[1], Addr(k[6]), 2*coin, 10, 0)}, Opts{})
	s.add(Test{Name: "s7-side", Block: s7, Want: SideChain, Mempool: -1})
	s.add(Test{Name: "s8-side-tie", Block: g.NextBlock("s8", "s7", nil, Opts{}), Want: SideChain, Mempool: -1})
	s.tip = "s9"
	s.add(Test{Name: "s9-reorg", Block: g.NextBlock("s9", "s8", nil, Opts{}), Want: MainChain, Mempool: 1}) // b8's k2 transfer returns; its k1 one is spent by s7
	s.add(Test{Name: "b9-side-tie", Block: g.NextBlock("b9", "b8", nil, Opts{}), Want: SideChain, Mempool: -1})
	s.tip = "b10"
	s.add(Test{Name: "b10-reorg-back", Block: g.NextBlock("b10", "b9", nil, Opts{}), Want: MainChain, Mempool: 0})
	// A heavier branch whose last block is invalid is refused whole.
	s.add(Test{Name: "s10-side-tie", Block: g.NextBlock("s10", "s9", nil, Opts{}), Want: SideChain, Mempool: -1})
	bad := g.NextBlock("s11-invalid", "s10", []*ledger.Tx{g.Transfer(k[3], Addr(k[5]), 60*coin, 1, 0)}, Opts{})
	s.add(Test{Name: "s11-invalid-reorg-refused", Block: bad, Want: Rejected, Code: ledger.ErrInsufficientBalance, Mempool: -1})

	// Mempool policy at b10.
	n3 := g.Nonce("b10", k[3])
	ok1 := g.Transfer(k[3], Addr(k[4]), 20*coin, 10, n3)
	s.txOK("tx-ok", ok1, 1)
	s.txBad("tx-duplicate", ok1, ledger.ErrMempoolDuplicate)
	s.txBad("tx-conflict", g.Transfer(k[3], Addr(k[4]), 21*coin, 10, n3), ledger.ErrMempoolConflict)
	s.txBad("tx-nonce-gap", g.Transfer(k[3], Addr(k[4]), coin, 10, n3+2), ledger.ErrNonceGap)
	s.txBad("tx-stale-nonce", g.Transfer(k[0], Addr(k[4]), coin, 10, 0), ledger.ErrBadNonce)
	s.txBad("tx-coinbase", g.Block("b10").Txs[0], ledger.ErrCoinbaseInMempool)
	s.txBad("tx-fee-too-low", g.Transfer(k[4], Addr(k[3]), coin, 0, g.Nonce("b10", k[4])), ledger.ErrFeeTooLow)
	badSig := g.Transfer(k[4], Addr(k[3]), coin, 10, g.Nonce("b10", k[4]))
	badSig.Sig[0] ^= 1
	s.txBad("tx-bad-signature", badSig, ledger.ErrBadSignature)
	wrongNet := &ledger.Tx{ChainID: ledger.NetworkMain.Params().ChainID, Kind: ledger.TxTransfer, Recipient: Addr(k[3]), Amount: 1, Fee: 10}
	s.txBad("tx-wrong-chain", Resign(wrongNet, k[4]), ledger.ErrWrongChainID)
	s.txBad("tx-pending-overspend", g.Transfer(k[3], Addr(k[4]), 30*coin+1, 10, n3+1), ledger.ErrInsufficientBalance)
	ok2 := g.Transfer(k[3], Addr(k[4]), coin, 10, n3+1)
	s.txOK("tx-chained", ok2, 2)
	s.tip = "b11"
	s.add(Test{Name: "b11-mines-pending", Block: g.NextBlock("b11", "b10", []*ledger.Tx{ok1, ok2}, Opts{}), Want: MainChain, Mempool: 0})

	s.names(k)
	s.channels(k)
	return &Script{G: g, Mempool: ledger.MempoolConfig{MinFee: 1}, Tests: s.tests}
}

// names scripts anchors and names on top of b11: commitments, claims too
// early, without or with someone else's commitment, two claims in one
// block and in the mempool, updates by the owner and by another key, and
// claims and first anchors on two branches across two reorganisations.
func (s *scripter) names(k []*btcec.PrivateKey) {
	g := s.g
	alice, bob, carol, dave := k[4], k[5], k[2], k[3]
	const fee = 10
	cidX, cidY, cidV, cidW := TestCID("x-doc"), TestCID("y-doc"), TestCID("v-doc"), TestCID("w-doc")
	claim := func(from *btcec.PrivateKey, name string, c cid.Cid, nonce uint64) *ledger.Tx {
		return g.Anchor(from, ledger.Anchor{CID: c, Name: name, Salt: Salt(name, from)}, fee, nonce)
	}
	update := func(from *btcec.PrivateKey, name string, c cid.Cid, nonce uint64) *ledger.Tx {
		return g.Anchor(from, ledger.Anchor{CID: c, Name: name}, fee, nonce)
	}
	nonce := func(block string, key *btcec.PrivateKey) uint64 { return g.Nonce(block, key) }

	// b12: commitments (alice and bob both to "alice-docs", bob, carol and
	// dave to "contested", carol to "only-a") and a plain anchor of X by carol.
	na, nb, nc := nonce("b11", alice), nonce("b11", bob), nonce("b11", carol)
	s.accept("b12", "b11", []*ledger.Tx{
		g.NameCommit(alice, "alice-docs", fee, na),
		g.NameCommit(bob, "alice-docs", fee, nb),
		g.NameCommit(bob, "contested", fee, nb+1),
		g.NameCommit(carol, "contested", fee, nc),
		g.NameCommit(carol, "only-a", fee, nc+1),
		g.Anchor(carol, ledger.Anchor{CID: cidX}, fee, nc+2),
		g.NameCommit(dave, "contested", fee, nonce("b11", dave)),
	}, Opts{})
	na = nonce("b12", alice)
	s.reject("claim-commit-too-new", ledger.ErrNameCommitTooNew, []*ledger.Tx{claim(alice, "alice-docs", cidX, na)}, Opts{})
	s.txBad("tx-claim-commit-too-new", claim(alice, "alice-docs", cidX, na), ledger.ErrNameCommitTooNew)
	badCommit := g.NameCommit(alice, "alice-docs", fee, na)
	badCommit.Payload = badCommit.Payload[:31]
	s.reject("name-commit-short", ledger.ErrBadNameCommit, []*ledger.Tx{Resign(badCommit, alice)}, Opts{})
	s.accept("b13", "b12", nil, Opts{})
	s.reject("claim-without-salt", ledger.ErrNameNotCommitted, []*ledger.Tx{update(alice, "alice-docs", cidX, na)}, Opts{})
	stolen := g.Anchor(alice, ledger.Anchor{CID: cidX, Name: "alice-docs", Salt: Salt("alice-docs", bob)}, fee, na)
	s.reject("claim-with-anothers-salt", ledger.ErrNameNotCommitted, []*ledger.Tx{stolen}, Opts{})
	s.reject("claim-uncommitted-name", ledger.ErrNameNotCommitted, []*ledger.Tx{claim(alice, "never-committed", cidX, na)}, Opts{})
	aliceClaim := claim(alice, "alice-docs", cidX, na)
	bobClaim := claim(bob, "alice-docs", cidY, nonce("b13", bob))
	// Two claims of one name in one block: the first owns it, so the second is a claim by another key.
	s.reject("two-claims-one-block", ledger.ErrNameTaken, []*ledger.Tx{aliceClaim, bobClaim}, Opts{})
	s.txOK("tx-claim", aliceClaim, 1)
	s.txBad("tx-second-claim", bobClaim, ledger.ErrMempoolNameConflict)
	s.tip = "b14"
	s.add(Test{Name: "b14-claim", Block: g.NextBlock("b14", "b13", []*ledger.Tx{aliceClaim}, Opts{}), Want: MainChain, Mempool: 0})
	s.txBad("tx-claim-taken", bobClaim, ledger.ErrNameTaken)
	s.reject("claim-taken", ledger.ErrNameTaken, []*ledger.Tx{bobClaim}, Opts{})
	s.reject("update-by-other-key", ledger.ErrNameTaken, []*ledger.Tx{update(bob, "alice-docs", cidY, nonce("b14", bob))}, Opts{})
	// The owner points the name to Y; X's proof of existence stays at b12.
	s.accept("b15", "b14", []*ledger.Tx{update(alice, "alice-docs", cidY, nonce("b14", alice)), g.Anchor(dave, ledger.Anchor{CID: cidX}, fee, nonce("b14", dave))}, Opts{})

	// Two branches from b15. b: bob claims "contested", carol "only-a",
	// bob anchors V and W. s: carol claims "contested"; dave anchors W a
	// block later. s wins, then b wins again.
	nb, nc = nonce("b15", bob), nonce("b15", carol)
	// Dave's pending claim of "contested" is evicted when b16 gives the name to bob.
	s.txOK("tx-claim-contested", claim(dave, "contested", cidY, nonce("b15", dave)), 1)
	s.tip = "b16"
	s.add(Test{Name: "b16-evicts-claim", Want: MainChain, Mempool: 0, Block: g.NextBlock("b16", "b15", []*ledger.Tx{
		g.Anchor(bob, ledger.Anchor{CID: cidW}, fee, nb),
		claim(bob, "contested", cidV, nb+1),
		claim(carol, "only-a", cidV, nc),
	}, Opts{})})
	s.add(Test{Name: "s16-side", Block: g.NextBlock("s16", "b15", []*ledger.Tx{claim(carol, "contested", cidX, nc)}, Opts{}), Want: SideChain, Mempool: -1})
	s.tip = "s17"
	// After the reorg bob's anchor of W returns to the mempool; his
	// "contested" claim is taken, and carol's "only-a" claim reuses the
	// nonce of her s16 claim: neither returns.
	s.add(Test{Name: "s17-reorg-names", Block: g.NextBlock("s17", "s16", []*ledger.Tx{g.Anchor(dave, ledger.Anchor{CID: cidW}, fee, nonce("s16", dave))}, Opts{}), Want: MainChain, Mempool: 1})
	s.add(Test{Name: "b17-side", Block: g.NextBlock("b17", "b16", nil, Opts{}), Want: SideChain, Mempool: -1})
	s.tip = "b18"
	s.add(Test{Name: "b18-reorg-back", Block: g.NextBlock("b18", "b17", nil, Opts{}), Want: MainChain, Mempool: 1}) // dave's W anchor returns; carol's s16 claim lost its nonce
}
