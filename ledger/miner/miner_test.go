package miner_test

import (
	"sync"
	"testing"
	"time"

	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/ledger/ledgertest"
	"github.com/myco-p2p/myco/ledger/miner"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func openMem(t testing.TB, p *ledger.Params) *ledger.Chain {
	t.Helper()
	c, err := ledger.OpenChain(ledger.Config{Params: p, Store: ledger.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fakeClock is a clock that tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestMinerMinesAndIncludesTransactions(t *testing.T) {
	p := ledger.NetworkDev.Params()
	c := openMem(t, p)
	defer c.Close()
	clock := &fakeClock{now: time.UnixMilli(p.GenesisTime + 1000)}
	key := ledgertest.DeterministicKey(7)
	me := ledgertest.Addr(key)
	var mu sync.Mutex
	var found []ledger.Hash
	m, err := miner.New(miner.Config{
		Chain: c, Address: me, Now: clock.Now, Refresh: time.Millisecond,
		OnBlock: func(b *ledger.Block, res ledger.ProcessResult, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				found = append(found, res.Hash)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	tips, unsubscribe := c.SubscribeTip()
	defer unsubscribe()
	if err := m.Start(2); err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	waitHeight := func(h uint64) ledger.TipInfo {
		for tip := range tips {
			clock.Advance(time.Second)
			if tip.Height >= h {
				return tip
			}
		}
		t.Fatal("tip channel closed")
		return ledger.TipInfo{}
	}
	waitHeight(2)
	acc, _ := c.Account(me)
	if acc.Balance < 2*p.InitialSubsidy {
		t.Fatalf("miner balance %d after two blocks", acc.Balance)
	}
	// A transfer from the mined coins ends up in a block.
	dest := ledgertest.Addr(ledgertest.DeterministicKey(8))
	tx, err := c.NewTransfer(key, dest, ledger.Coin, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddTx(tx); err != nil {
		t.Fatal(err)
	}
	for {
		waitHeight(0)
		if a, _ := c.Account(dest); a.Balance == ledger.Coin {
			break
		}
	}
	if _, _, err := c.FindTx(tx.ID()); err != nil {
		t.Fatalf("mined transfer not indexed: %v", err)
	}
	clock.Advance(3 * time.Second)
	st := m.Status()
	if !st.Mining || st.Threads != 2 || st.HashRate <= 0 {
		t.Fatalf("status %+v", st)
	}
	// The miner counts a block after ProcessBlock returns, and the tip is
	// published inside it: only after Stop (which waits for the mining
	// goroutine) is every block behind a seen tip counted.
	m.Stop()
	if st := m.Status(); st.Mining || st.HashRate != 0 || st.Blocks < 3 {
		t.Fatalf("status after stop %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if uint64(len(found)) < 3 {
		t.Fatalf("OnBlock saw %d blocks", len(found))
	}
}

func TestMinerStartErrors(t *testing.T) {
	if _, err := miner.New(miner.Config{}); err == nil {
		t.Error("miner without a chain accepted")
	}
	p := ledger.NetworkDev.Params()
	c := openMem(t, p)
	defer c.Close()
	m, err := miner.New(miner.Config{Chain: c, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(0); err == nil {
		t.Error("zero threads accepted")
	}
	m.Stop() // stopping a stopped miner is fine
}
