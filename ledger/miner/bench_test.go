package miner

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/myco-p2p/myco/ledger"
)

// BenchmarkHeaderHash compares one block-hash computation per nonce: a
// plain double SHA-256 over an 80-byte (Bitcoin-sized) header, the same over
// our 96-byte header, and the miner's midstate path over the 96-byte header.
func BenchmarkHeaderHash(b *testing.B) {
	hdr := ledger.Header{Version: ledger.BlockVersion, Height: 1234, Time: 1767225600000, Bits: 0x1f0fffff}
	hdr.PrevHash[0], hdr.MerkleRoot[0] = 1, 2
	enc := hdr.Encode()
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
	}
	b.Run("plain-80B", func(b *testing.B) {
		var h80 [80]byte
		copy(h80[:], enc[:80])
		b.SetBytes(80)
		var sink ledger.Hash
		for i := 0; i < b.N; i++ {
			binary.LittleEndian.PutUint32(h80[76:], uint32(i))
			sink = ledger.DoubleSHA256(h80[:])
		}
		_ = sink
		report(b)
	})
	b.Run("plain-96B", func(b *testing.B) {
		e := enc
		b.SetBytes(ledger.HeaderSize)
		var sink ledger.Hash
		for i := 0; i < b.N; i++ {
			binary.LittleEndian.PutUint64(e[ledger.NonceOffset:], uint64(i))
			sink = ledger.DoubleSHA256(e[:])
		}
		_ = sink
		report(b)
	})
	b.Run("midstate-96B", func(b *testing.B) {
		mh, err := newMidstateHasher(&enc)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(ledger.HeaderSize)
		var sink ledger.Hash
		for i := 0; i < b.N; i++ {
			sink = mh.hash(uint64(i))
		}
		_ = sink
		report(b)
	})
}

// BenchmarkMinerSolve runs the miner's search loop (midstate hash plus
// target comparison) on 1 and 2 goroutines against a target nothing meets.
func BenchmarkMinerSolve(b *testing.B) {
	p := ledger.NetworkDev.Params()
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			hdr := ledger.Header{Version: ledger.BlockVersion, Height: 1, Bits: 0x03000001} // target 1
			var hashes atomic.Uint64
			b.SetBytes(ledger.HeaderSize)
			var wg sync.WaitGroup
			per := uint64(b.N/threads + 1)
			for i := range threads {
				wg.Go(func() {
					h := hdr
					Solve(context.Background(), &h, p, uint64(i), uint64(threads), per, &hashes)
				})
			}
			wg.Wait()
			rate := float64(hashes.Load()) / b.Elapsed().Seconds()
			b.ReportMetric(rate, "hashes/s")
			b.ReportMetric(rate/float64(threads), "hashes/s/thread")
		})
	}
}
