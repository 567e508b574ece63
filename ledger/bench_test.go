package ledger

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/myco-p2p/myco/internal/forkjoin"
)

type mapReader map[Address]Account

func (m mapReader) account(a Address) (Account, error) { return m[a], nil }

func (m mapReader) indexValue(string) ([]byte, bool, error) { return nil, false, nil }

// benchBlock builds a solved dev block of n transfers from n funded keys.
func benchBlock(tb testing.TB, n int) (*Block, mapReader, *Params) {
	p := NetworkDev.Params()
	state := mapReader{}
	blk := &Block{Header: Header{Version: BlockVersion, Height: 1, Time: p.GenesisTime + 1000, Bits: p.GenesisBits}}
	var fees uint64
	for i := range n {
		var raw [32]byte
		binary.BigEndian.PutUint64(raw[24:], uint64(i+1))
		raw[0] = 7
		k, _ := btcec.PrivKeyFromBytes(raw[:])
		from := AddressFromPubKey(k.PubKey())
		state[from] = Account{Balance: 10 * Coin}
		tx := &Tx{ChainID: p.ChainID, Kind: TxTransfer, Recipient: Address{byte(i), 1}, Amount: Coin, Fee: 10}
		if err := tx.Sign(k); err != nil {
			tb.Fatal(err)
		}
		fees += tx.Fee
		blk.Txs = append(blk.Txs, tx)
	}
	cb := &Tx{ChainID: p.ChainID, Kind: TxCoinbase, Nonce: 1, Recipient: Address{9}, Amount: p.Subsidy(1) + fees}
	blk.Txs = append([]*Tx{cb}, blk.Txs...)
	blk.Header.MerkleRoot = MerkleRoot(blk.TxIDs())
	solve(tb, &blk.Header, p)
	return blk, state, p
}

// BenchmarkBlockValidation measures full validation of a block of n
// transfers (sanity, merkle, every signature, state transitions), with
// signatures verified on 1 or 2 goroutines, and with every signature
// already in the cache (as for transactions that came through the mempool;
// a connecting block spends its entries, so they are put back, off the
// timer, before each run).
func BenchmarkBlockValidation(b *testing.B) {
	for _, n := range []int{250, 1000, 4000} {
		blk, state, p := benchBlock(b, n)
		for _, tc := range []struct {
			name  string
			par   func(n int, fn func(i int))
			cache *sigCache
		}{{"workers=1", nil, nil}, {"workers=2", forkjoin.New(2), nil}, {"cached", forkjoin.New(2), newSigCache(2 * n)}} {
			b.Run(fmt.Sprintf("txs=%d/%s", n, tc.name), func(b *testing.B) {
				b.SetBytes(int64(blk.Size()))
				for i := 0; i < b.N; i++ {
					if tc.cache != nil {
						b.StopTimer()
						for _, tx := range blk.Txs[1:] {
							if err := tx.verifySignature(tc.cache, sigKeep); err != nil {
								b.Fatal(err)
							}
						}
						b.StartTimer()
					}
					if _, err := checkBlockSanity(blk, p); err != nil {
						b.Fatal(err)
					}
					if err := verifySigs(blk.Txs, tc.par, tc.cache); err != nil {
						b.Fatal(err)
					}
					if err := connectTxs(newView(state), blk, p, tc.cache); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tx/s")
			})
		}
	}
}

// BenchmarkSigVerify is one BIP-340 verification.
func BenchmarkSigVerify(b *testing.B) {
	blk, _, _ := benchBlock(b, 1)
	tx := blk.Txs[1]
	for i := 0; i < b.N; i++ {
		if err := tx.VerifySignature(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}
