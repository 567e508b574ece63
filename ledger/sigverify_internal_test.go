package ledger

import (
	"errors"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"

	"github.com/myco-p2p/myco/internal/forkjoin"
)

func testKey(i byte) *btcec.PrivateKey {
	k, _ := btcec.PrivKeyFromBytes([]byte{31: i, 0: 0x5c})
	return k
}

// TestSigCacheNeverPassesAnotherSignature: once a transaction's or a
// voucher's signature is cached, a change to the message, the key or the
// signature is verified afresh and fails; the genuine one is answered
// from the cache.
func TestSigCacheNeverPassesAnotherSignature(t *testing.T) {
	p := NetworkDev.Params()
	c := newSigCache(100)
	wantVerified := func(step string, n uint64) {
		t.Helper()
		if got := c.verified.Load(); got != n {
			t.Fatalf("%s: %d verifications, want %d", step, got, n)
		}
	}
	code := func(err error) ErrorCode {
		var re *RuleError
		if errors.As(err, &re) {
			return re.Code
		}
		return 0
	}

	tx := &Tx{ChainID: p.ChainID, Kind: TxTransfer, Recipient: Address{1}, Amount: 5, Fee: 1}
	if err := tx.Sign(testKey(1)); err != nil {
		t.Fatal(err)
	}
	other := &Tx{ChainID: p.ChainID, Kind: TxTransfer, Recipient: Address{2}, Amount: 5, Fee: 1}
	if err := other.Sign(testKey(1)); err != nil {
		t.Fatal(err)
	}
	if err := tx.verifySignature(c, sigKeep); err != nil {
		t.Fatal(err)
	}
	if err := tx.verifySignature(c, sigKeep); err != nil {
		t.Fatal(err)
	}
	wantVerified("a transaction checked twice", 1)
	raised, stolen, rekeyed := *tx, *tx, *tx
	raised.Amount++                                           // another message, the same signature
	stolen.Sig = other.Sig                                    // the same message, another signature by the same key
	rekeyed.Sender = [PubKeySize]byte(schnorrKey(testKey(3))) // another key
	for i, bad := range []*Tx{&raised, &stolen, &rekeyed} {
		err := bad.verifySignature(c, sigKeep)
		if code(err) != ErrBadSignature && code(err) != ErrBadPubKey {
			t.Fatalf("changed transaction %d passed: %v", i, err)
		}
		wantVerified("a changed transaction", uint64(2+i))
	}

	payer := testKey(2)
	v, err := SignVoucher(payer, p.ChainID, Hash{7}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	w, err := SignVoucher(payer, p.ChainID, Hash{7}, 2000)
	if err != nil {
		t.Fatal(err)
	}
	key, wrongKey := [PubKeySize]byte(schnorrKey(payer)), [PubKeySize]byte(schnorrKey(testKey(3)))
	if err := v.verify(key, c, sigKeep); err != nil {
		t.Fatal(err)
	}
	if err := v.verify(key, c, sigKeep); err != nil {
		t.Fatal(err)
	}
	wantVerified("a voucher checked twice", 5)
	forged := v
	forged.Amount = w.Amount // the higher amount with the lower voucher's signature
	spliced := v
	spliced.Sig = w.Sig // the lower amount with the higher voucher's signature
	otherChannel := v
	otherChannel.Channel = Hash{8}
	for i, bad := range []struct {
		v   Voucher
		key [PubKeySize]byte
	}{{forged, key}, {spliced, key}, {otherChannel, key}, {v, wrongKey}} {
		if err := bad.v.verify(bad.key, c, sigKeep); code(err) != ErrBadVoucherSignature {
			t.Fatalf("changed voucher %d passed: %v", i, err)
		}
		wantVerified("a changed voucher", uint64(6+i))
	}
	// A transaction's and a voucher's verifications never share a key, and
	// the cache holds the two that passed, not the failures.
	if len(c.m) != 2 {
		t.Fatalf("the cache holds %d entries, want the transaction's and the voucher's", len(c.m))
	}

	// A connecting block spends an entry: answered once, then verified.
	if err := v.verify(key, c, sigSpend); err != nil {
		t.Fatal(err)
	}
	wantVerified("a spent voucher", 9)
	if err := v.verify(key, c, sigSpend); err != nil {
		t.Fatal(err)
	}
	wantVerified("a voucher spent before", 10)
	if len(c.m) != 1 {
		t.Fatalf("after the spend the cache holds %d entries, want 1", len(c.m))
	}
}

func schnorrKey(k *btcec.PrivateKey) []byte { return schnorr.SerializePubKey(k.PubKey()) }

// TestSigCacheBounded: the cache never holds more than its size, and a
// cache of size zero or less remembers nothing.
func TestSigCacheBounded(t *testing.T) {
	for _, size := range []int{-1, 0, 1, 3} {
		c := newSigCache(size)
		for i := range 10 {
			c.add(sigKey{byte(i)})
			if len(c.m) > max(size, 0) {
				t.Fatalf("size %d: %d entries", size, len(c.m))
			}
		}
		if len(c.m) != max(size, 0) {
			t.Fatalf("size %d: %d entries after 10 adds", size, len(c.m))
		}
	}
}

// TestSigCacheConcurrent verifies a block's signatures on four goroutines
// through one cache, filling it and then spending it (run with -race).
func TestSigCacheConcurrent(t *testing.T) {
	blk, _, _ := benchBlock(t, 64)
	c := newSigCache(1000)
	par := forkjoin.New(4)
	par(len(blk.Txs)-1, func(i int) {
		if err := blk.Txs[i+1].verifySignature(c, sigKeep); err != nil {
			t.Error(err)
		}
	})
	if c.verified.Load() != 64 || len(c.m) != 64 {
		t.Fatalf("after the mempool's checks: %d verified, %d cached", c.verified.Load(), len(c.m))
	}
	if err := verifySigs(blk.Txs, par, c); err != nil {
		t.Fatal(err)
	}
	if c.verified.Load() != 64 || c.hits.Load() != 64 || len(c.m) != 0 {
		t.Fatalf("after the block: %d verified, %d hits, %d cached", c.verified.Load(), c.hits.Load(), len(c.m))
	}
}
