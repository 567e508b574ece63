package ledger_test

import (
	"errors"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/ledger/ledgertest"
)

// TestNamesAndProofsAcrossReorgs reads names and proofs of existence
// through the exported API at the script's turning points: the first claim
// owns a name, the owner's update moves it, another key's claim changes
// nothing, and after each reorganisation the winning branch's claims and
// earliest anchors hold while the losing branch's are gone.
func TestNamesAndProofsAcrossReorgs(t *testing.T) {
	s := ledgertest.ConsensusTests()
	g := s.G
	k := g.Keys
	alice, bob, carol, dave := ledgertest.Addr(k[4]), ledgertest.Addr(k[5]), ledgertest.Addr(k[2]), ledgertest.Addr(k[3])
	cidX, cidY, cidV, cidW := ledgertest.TestCID("x-doc"), ledgertest.TestCID("y-doc"), ledgertest.TestCID("v-doc"), ledgertest.TestCID("w-doc")
	c, _ := openMem(t, g.P, s.Mempool)
	defer c.Close()
	run := &ledgertest.Replay{C: c, S: s}

	resolve := func(name string, owner ledger.Address, want ledger.NameRecord) {
		t.Helper()
		r, err := c.ResolveName(name)
		if err != nil {
			t.Fatalf("resolve %s: %v", name, err)
		}
		if r.Owner != owner || !r.CID.Equals(want.CID) || r.Height != want.Height || r.Claimed != want.Claimed {
			t.Fatalf("resolve %s: %+v, want owner %x cid %s height %d claimed %d", name, r, owner, want.CID, want.Height, want.Claimed)
		}
	}
	unknownName := func(name string) {
		t.Helper()
		if _, err := c.ResolveName(name); !errors.Is(err, ledger.ErrUnknownName) {
			t.Fatalf("resolve %s: %v, want ErrUnknownName", name, err)
		}
	}
	proof := func(id cid.Cid, block string, owner ledger.Address) {
		t.Helper()
		p, err := c.FirstAnchor(id)
		if err != nil {
			t.Fatalf("first anchor of %s: %v", id, err)
		}
		b := g.Block(block)
		if p.Block != b.Hash() || p.Height != b.Header.Height || p.Time != b.Header.Time || p.Owner != owner {
			t.Fatalf("first anchor of %s: %+v, want block %s by %x", id, p, block, owner)
		}
		loc, tx, err := c.FindTx(p.TxID)
		if err != nil || loc.Block != p.Block || tx.Kind != ledger.TxAnchor {
			t.Fatalf("first anchor of %s: its tx %s: %v", id, p.TxID, err)
		}
		if got, want := p.Confirmations(c.Tip()), c.Tip().Height-b.Header.Height+1; got != want {
			t.Fatalf("confirmations %d, want %d", got, want)
		}
	}
	unknownCID := func(id cid.Cid) {
		t.Helper()
		if _, err := c.FirstAnchor(id); !errors.Is(err, ledger.ErrUnknownCID) {
			t.Fatalf("first anchor of %s: %v, want ErrUnknownCID", id, err)
		}
	}

	run.To(t, "b13")
	unknownName("alice-docs")
	proof(cidX, "b12", carol)
	unknownCID(cidY)
	// NameClaimHeight says when alice's claim may be mined: two blocks above b12.
	if h, err := c.NameClaimHeight("alice-docs", ledgertest.Salt("alice-docs", k[4]), alice); err != nil || h != 14 {
		t.Fatalf("claim height %d %v, want 14", h, err)
	}
	if _, err := c.NameClaimHeight("alice-docs", ledgertest.Salt("alice-docs", k[4]), bob); !errors.Is(err, ledger.ErrUnknownName) {
		t.Fatalf("claim height with another owner: %v", err)
	}

	run.To(t, "update-by-other-key")
	resolve("alice-docs", alice, ledger.NameRecord{CID: cidX, Height: 14, Claimed: 14})

	run.To(t, "b16-evicts-claim")
	resolve("alice-docs", alice, ledger.NameRecord{CID: cidY, Height: 15, Claimed: 14})
	proof(cidX, "b12", carol) // dave's later anchor of X in b15 changes nothing
	resolve("contested", bob, ledger.NameRecord{CID: cidV, Height: 16, Claimed: 16})
	resolve("only-a", carol, ledger.NameRecord{CID: cidV, Height: 16, Claimed: 16})
	proof(cidW, "b16", bob)
	proof(cidV, "b16", bob)

	// Branch s wins: carol owns "contested", "only-a" is nobody's, W was
	// first anchored by dave in s17 and V never was.
	run.To(t, "s17-reorg-names")
	resolve("contested", carol, ledger.NameRecord{CID: cidX, Height: 16, Claimed: 16})
	unknownName("only-a")
	resolve("alice-docs", alice, ledger.NameRecord{CID: cidY, Height: 15, Claimed: 14})
	proof(cidW, "s17", dave)
	unknownCID(cidV)

	// Branch b wins again: everything as before the first reorganisation.
	run.To(t, "b18-reorg-back")
	resolve("contested", bob, ledger.NameRecord{CID: cidV, Height: 16, Claimed: 16})
	resolve("only-a", carol, ledger.NameRecord{CID: cidV, Height: 16, Claimed: 16})
	proof(cidW, "b16", bob)
	proof(cidV, "b16", bob)

	// Strings that cannot be names are unknown names, with the reason.
	for _, bad := range []string{"", "ab", "UPPER", "a/b"} {
		unknownName(bad)
	}
}

// TestPublishFlow walks the calls a node makes to publish under a name:
// commit, wait until NameClaimHeight, claim with the salt, update, with
// blocks built by BlockTemplate and mined for real; and the refusals a
// user sees on the way.
func TestPublishFlow(t *testing.T) {
	p := ledger.NetworkDev.Params()
	c, _ := openMem(t, p, ledger.MempoolConfig{})
	defer c.Close()
	alice, bob := ledgertest.DeterministicKey(1), ledgertest.DeterministicKey(2)
	mineTo := templateMiner(t, c)
	mineBlock := func() *ledger.Block { return mineTo(ledgertest.Addr(alice)) }
	add := func(tx *ledger.Tx, err error) error {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.AddTx(tx)
		return err
	}
	site, site2 := ledgertest.TestCID("site v1"), ledgertest.TestCID("site v2")
	mineBlock() // funds alice

	// A claim without a commitment is refused.
	if err := add(c.NewAnchor(alice, ledger.Anchor{CID: site, Name: "my-site"}, 10)); ledgertest.RuleCode(err) != ledger.ErrNameNotCommitted {
		t.Fatalf("claim without commitment: %v", err)
	}
	salt, err := ledger.NewNameSalt()
	if err != nil {
		t.Fatal(err)
	}
	if err := add(c.NewNameCommit(alice, "my-site", salt, 10)); err != nil {
		t.Fatal(err)
	}
	commitBlock := mineBlock()
	claimAt, err := c.NameClaimHeight("my-site", salt, ledgertest.Addr(alice))
	if err != nil || claimAt != commitBlock.Header.Height+p.NameCommitDepth {
		t.Fatalf("claim height %d %v", claimAt, err)
	}
	claim := ledger.Anchor{CID: site, Name: "my-site", Salt: salt}
	for c.Tip().Height+1 < claimAt {
		if err := add(c.NewAnchor(alice, claim, 10)); ledgertest.RuleCode(err) != ledger.ErrNameCommitTooNew {
			t.Fatalf("early claim at tip %d: %v", c.Tip().Height, err)
		}
		mineBlock()
	}
	if err := add(c.NewAnchor(alice, claim, 10)); err != nil {
		t.Fatalf("claim at tip %d: %v", c.Tip().Height, err)
	}
	claimBlock := mineBlock()
	if len(claimBlock.Txs) != 2 {
		t.Fatalf("claim block holds %d txs", len(claimBlock.Txs))
	}
	r, err := c.ResolveName("my-site")
	if err != nil || !r.CID.Equals(site) || r.Owner != ledgertest.Addr(alice) || r.Claimed != claimBlock.Header.Height {
		t.Fatalf("resolve after claim: %+v %v", r, err)
	}

	// Bob cannot take it, with or without a fee.
	for _, fee := range []uint64{0, 10} {
		if err := add(c.NewAnchor(bob, ledger.Anchor{CID: site2, Name: "my-site"}, fee)); ledgertest.RuleCode(err) != ledger.ErrNameTaken && (fee == 0 || ledgertest.RuleCode(err) != ledger.ErrInsufficientBalance) {
			t.Fatalf("bob's anchor with fee %d: %v", fee, err)
		}
	}
	// Alice points it to v2; both alice and bob anchor v3 in one block,
	// and the earlier of the two in the block is v3's proof.
	v3 := ledgertest.TestCID("v3")
	if err := add(c.NewAnchor(alice, ledger.Anchor{CID: site2, Name: "my-site"}, 10)); err != nil {
		t.Fatal(err)
	}
	if err := add(c.NewAnchor(alice, ledger.Anchor{CID: v3}, 5)); err != nil {
		t.Fatal(err)
	}
	if err := add(c.NewAnchor(bob, ledger.Anchor{CID: v3}, 0)); err != nil {
		t.Fatal(err)
	}
	blk := mineBlock()
	if len(blk.Txs) != 4 {
		t.Fatalf("block holds %d txs, want 4", len(blk.Txs))
	}
	r, err = c.ResolveName("my-site")
	if err != nil || !r.CID.Equals(site2) || r.Height != blk.Header.Height || r.Claimed != claimBlock.Header.Height {
		t.Fatalf("resolve after update: %+v %v", r, err)
	}
	proof, err := c.FirstAnchor(v3)
	if err != nil {
		t.Fatal(err)
	}
	for _, tx := range blk.Txs[1:] {
		if a, err := ledger.DecodeAnchor(tx.Payload); err == nil && tx.Kind == ledger.TxAnchor && a.CID.Equals(v3) {
			if proof.TxID != tx.ID() || proof.Owner != tx.SenderAddress() {
				t.Fatalf("proof of v3 is %s by %x, the block's first v3 anchor is %s", proof.TxID, proof.Owner, tx.ID())
			}
			break
		}
	}
	if proof.Time != blk.Header.Time || proof.Block != blk.Hash() || proof.Confirmations(c.Tip()) != 1 {
		t.Fatalf("proof of v3: %+v", proof)
	}
	mineBlock()
	if got := proof.Confirmations(c.Tip()); got != 2 {
		t.Fatalf("confirmations %d after one more block", got)
	}
}
