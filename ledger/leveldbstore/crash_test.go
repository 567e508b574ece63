package leveldbstore_test

import (
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/ledger/ledgertest"
	"github.com/myco-p2p/myco/ledger/leveldbstore"
)

// TestCrashConsistency runs a scenario (blocks with transfers, a side
// branch, a reorganisation of depth 3, an orphan) on goleveldb, failing
// the store at every write in turn as if the process died there. Each time
// the leveldb is reopened: the chain must open, its tip must be a block of
// the scenario with exactly the modelled state, and feeding the scenario
// again must end at the expected tip and state.
func TestCrashConsistency(t *testing.T) {
	br := ledgertest.BuildBranches(3)
	order := append(append(append([]string{}, br.Base...), br.A...), br.B...)
	// Deliver b's last block before its parent once, to exercise orphans.
	n := len(order)
	order[n-1], order[n-2] = order[n-2], order[n-1]
	crashScenario(t, br.G, order, br.B[len(br.B)-1])
}

// TestCrashConsistencyAnchors does the same with the accepted blocks of
// the consensus script from b11 on: name commitments, claims, updates and
// anchors, and two reorganisations that move names and first anchors; the
// name and anchor indexes must match the model of the tip after every
// crash.
func TestCrashConsistencyAnchors(t *testing.T) {
	s := ledgertest.ConsensusTests()
	var order []string
	for _, tc := range s.Tests {
		if tc.Block != nil && (tc.Want == ledgertest.MainChain || tc.Want == ledgertest.SideChain || tc.Want == ledgertest.Orphan) {
			order = append(order, s.G.Name(tc.Block.Hash()))
		}
	}
	// Crash points before b11 are TestCrashConsistency's business: start
	// every run from a store that already holds the chain up to b11.
	var start int
	for i, name := range order {
		if name == "b11" {
			start = i + 1
		}
	}
	if start == 0 || len(order)-start < 8 {
		t.Fatalf("script has %d blocks after b11", len(order)-start)
	}
	crashScenarioFrom(t, s.G, order[:start], order[start:], order[len(order)-1])
}

func crashScenario(t *testing.T, g *ledgertest.Generator, order []string, finalTip string) {
	crashScenarioFrom(t, g, nil, order, finalTip)
}

// crashScenarioFrom feeds prefix without failures, then order while the
// store fails at every write in turn.
func crashScenarioFrom(t *testing.T, g *ledgertest.Generator, prefix, order []string, finalTip string) {
	t.Helper()
	all := append(append([]string{}, prefix...), order...)

	run := func(t *testing.T, dir string, failAt int) (failed bool) {
		ls, err := leveldbstore.Open(dir, leveldbstore.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		fs := ledgertest.NewFaultStore(ls)
		c, err := ledger.OpenChain(ledger.Config{Params: g.P, Store: fs})
		if err != nil {
			t.Fatal(err)
		}
		if failAt > 0 {
			for _, name := range prefix {
				b := g.Block(name)
				if _, err := c.ProcessBlock(b, time.UnixMilli(b.Header.Time)); err != nil {
					t.Fatalf("prefix block %s: %v", name, err)
				}
			}
			fs.FailAt(failAt)
		}
		feedOrder := order
		if failAt == 0 {
			feedOrder = all
		}
		for _, name := range feedOrder {
			b := g.Block(name)
			_, err := c.ProcessBlock(b, time.UnixMilli(b.Header.Time))
			if errors.Is(err, ledgertest.ErrInjected) {
				failed = true
				break
			}
			if err != nil {
				t.Fatalf("block %s: %v", name, err)
			}
		}
		// The "crash": the chain is abandoned, only the files remain.
		if err := ls.Close(); err != nil {
			t.Fatal(err)
		}
		return failed
	}

	check := func(t *testing.T, dir string, wantTip string) {
		ls, err := leveldbstore.Open(dir, leveldbstore.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		c, err := ledger.OpenChain(ledger.Config{Params: g.P, Store: ls})
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer c.Close()
		tip := g.Name(c.Tip().Hash)
		if tip == "" {
			t.Fatalf("tip %s is not a scenario block", c.Tip().Hash)
		}
		if wantTip != "" && tip != wantTip {
			t.Fatalf("tip %s, want %s", tip, wantTip)
		}
		if got := ledgertest.Accounts(t, c); !maps.Equal(got, g.State(tip)) {
			t.Fatalf("state at tip %s differs from the model", tip)
		}
		ledgertest.CheckIndexes(t, c, g, tip, "reopen")
		for h := uint64(0); h <= c.Tip().Height; h++ {
			if _, err := c.BlockByHeight(h); err != nil {
				t.Fatalf("height %d: %v", h, err)
			}
		}
		if wantTip == "" {
			// Resume: feed everything again; it must end where a clean run does.
			for _, name := range all {
				b := g.Block(name)
				if _, err := c.ProcessBlock(b, time.UnixMilli(b.Header.Time)); err != nil {
					t.Fatalf("resume at %s: %v", name, err)
				}
			}
			if got := g.Name(c.Tip().Hash); got != finalTip {
				t.Fatalf("after resume tip %s, want %s", got, finalTip)
			}
			if !maps.Equal(ledgertest.Accounts(t, c), g.State(finalTip)) {
				t.Fatal("after resume the state differs from the model")
			}
			ledgertest.CheckIndexes(t, c, g, finalTip, "resume")
		}
	}

	clean := t.TempDir()
	if run(t, clean, 0) {
		t.Fatal("clean run failed")
	}
	check(t, clean, finalTip)

	points := 0
	for failAt := 1; ; failAt++ {
		dir := t.TempDir()
		if !run(t, dir, failAt) {
			break // the scenario has fewer writes: every point is covered
		}
		points++
		check(t, dir, "")
	}
	if points < 10 {
		t.Fatalf("only %d write points exercised", points)
	}
	t.Logf("crashed and recovered at %d write points", points)
}

// TestAnchorIndexesSurviveReopen runs the whole script on goleveldb,
// closes it, and checks the reopened chain serves the same names and
// proofs as the model of its tip.
func TestAnchorIndexesSurviveReopen(t *testing.T) {
	s := ledgertest.ConsensusTests()
	g := s.G
	dir := t.TempDir()
	open := func() *ledger.Chain {
		ls, err := leveldbstore.Open(dir, leveldbstore.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		c, err := ledger.OpenChain(ledger.Config{Params: g.P, Store: ls, Mempool: s.Mempool})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := open()
	(&ledgertest.Replay{C: c, S: s}).To(t, s.Tests[len(s.Tests)-1].Name)
	tip := g.Name(c.Tip().Hash)
	names, _ := c.Names()
	c.Close()

	c = open()
	defer c.Close()
	if got := g.Name(c.Tip().Hash); got != tip {
		t.Fatalf("reopened at %s, want %s", got, tip)
	}
	ledgertest.CheckIndexes(t, c, g, tip, "reopen")
	again, _ := c.Names()
	if len(again) != len(names) || len(names) < 3 {
		t.Fatalf("%d names before reopening, %d after", len(names), len(again))
	}
	if !maps.Equal(ledgertest.Accounts(t, c), g.State(tip)) {
		t.Fatal("state after reopening differs from the model")
	}
	r, err := c.ResolveName("alice-docs")
	if err != nil || !r.CID.Equals(ledgertest.TestCID("y-doc")) {
		t.Fatalf("resolve after reopening: %+v %v", r, err)
	}
}
