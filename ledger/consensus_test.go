package ledger_test

import (
	"errors"
	"maps"
	"testing"

	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/ledger/ledgertest"
)

func openMem(t testing.TB, p *ledger.Params, mp ledger.MempoolConfig) (*ledger.Chain, *ledger.MemStore) {
	t.Helper()
	store := ledger.NewMemStore()
	c, err := ledger.OpenChain(ledger.Config{Params: p, Store: store, Mempool: mp})
	if err != nil {
		t.Fatal(err)
	}
	return c, store
}

func accounts(t testing.TB, c *ledger.Chain) map[ledger.Address]ledger.Account {
	t.Helper()
	a, err := c.Accounts()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestConsensusScript replays the ledgertest script: every block and
// transaction must get its expected outcome and error code, a rejection
// must leave the tip and every account as they were, and after each step
// the state must equal the generator's independent model of the tip.
func TestConsensusScript(t *testing.T) {
	script := ledgertest.ConsensusTests()
	g := script.G
	c, _ := openMem(t, g.P, script.Mempool)
	defer c.Close()

	rejected := make(map[ledger.ErrorCode]int)
	for _, tc := range script.Tests {
		beforeTip := c.Tip()
		before := accounts(t, c)

		var status ledger.BlockStatus
		var err error
		switch {
		case tc.Raw != nil:
			_, err = ledger.DecodeBlock(tc.Raw, g.P.MaxBlockSize)
			status = ledger.StatusRejected
		case tc.Block != nil:
			var res ledger.ProcessResult
			res, err = c.ProcessBlock(tc.Block, tc.Now)
			status = res.Status
		default:
			_, err = c.AddTx(tc.Tx)
		}

		switch tc.Want {
		case ledgertest.Rejected, ledgertest.TxRejected:
			var re *ledger.RuleError
			if !errors.As(err, &re) {
				t.Fatalf("%s: err = %v, want a RuleError %s", tc.Name, err, tc.Code)
			}
			if re.Code != tc.Code {
				t.Fatalf("%s: code %s (%v), want %s", tc.Name, re.Code, err, tc.Code)
			}
			if tc.Block != nil && status != ledger.StatusRejected {
				t.Fatalf("%s: status %s for a rejected block", tc.Name, status)
			}
			if after := c.Tip(); after.Hash != beforeTip.Hash {
				t.Fatalf("%s: tip moved on a rejection", tc.Name)
			}
			if after := accounts(t, c); !maps.Equal(after, before) {
				t.Fatalf("%s: state changed on a rejection", tc.Name)
			}
			rejected[re.Code]++
		case ledgertest.TxAccepted:
			if err != nil {
				t.Fatalf("%s: %v", tc.Name, err)
			}
		default:
			if err != nil {
				t.Fatalf("%s: %v", tc.Name, err)
			}
			want := map[ledgertest.Outcome]ledger.BlockStatus{
				ledgertest.MainChain: ledger.StatusMainChain,
				ledgertest.SideChain: ledger.StatusSideChain,
				ledgertest.Orphan:    ledger.StatusOrphan,
			}[tc.Want]
			if status != want {
				t.Fatalf("%s: status %s, want %s", tc.Name, status, want)
			}
		}
		tip := c.Tip()
		if got := g.Name(tip.Hash); got != tc.Tip {
			t.Fatalf("%s: tip is %q (height %d), want %q", tc.Name, got, tip.Height, tc.Tip)
		}
		if got, want := accounts(t, c), g.State(tc.Tip); !maps.Equal(got, want) {
			t.Fatalf("%s: state at %s differs from the model:\n got %v\nwant %v", tc.Name, tc.Tip, got, want)
		}
		checkIndexes(t, c, g, tc.Tip, tc.Name)
		if tc.Mempool >= 0 {
			if got := c.MempoolStats().Txs; got != tc.Mempool {
				t.Fatalf("%s: mempool holds %d, want %d", tc.Name, got, tc.Mempool)
			}
		}
	}

	total := 0
	for _, n := range rejected {
		total += n
	}
	if total < 30 {
		t.Errorf("only %d rejections in the script, want at least 30", total)
	}
	// Every rule has at least one rejection in the script, except a full
	// mempool, which TestMempoolEviction covers.
	for _, code := range ledger.AllErrorCodes() {
		if rejected[code] == 0 && code != ledger.ErrMempoolFull {
			t.Errorf("no scripted rejection with %s", code)
		}
	}
	t.Logf("%d steps, %d rejections over %d codes", len(script.Tests), total, len(rejected))
}

func TestErrorCodesHaveNames(t *testing.T) {
	seen := make(map[string]ledger.ErrorCode)
	for _, code := range ledger.AllErrorCodes() {
		name := code.String()
		if name == "" || name[:3] != "Err" {
			t.Errorf("code %d has no name (%q)", int(code), name)
		}
		if other, dup := seen[name]; dup {
			t.Errorf("codes %d and %d share the name %q", int(other), int(code), name)
		}
		seen[name] = code
	}
	if got := ledger.ErrorCode(9999).String(); got != "ErrorCode(9999)" {
		t.Errorf("unknown code prints as %q", got)
	}
}

// checkIndexes compares the chain's name records and first anchors with
// the generator's model after the named block.
func checkIndexes(t testing.TB, c *ledger.Chain, g *ledgertest.Generator, tip, step string) {
	t.Helper()
	names, err := c.Names()
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	gotNames := make(map[string]ledger.NameRecord, len(names))
	for _, r := range names {
		gotNames[r.Name] = r
	}
	if want := g.Names(tip); !maps.Equal(gotNames, want) {
		t.Fatalf("%s: names at %s differ from the model:\n got %v\nwant %v", step, tip, gotNames, want)
	}
	anchors, err := c.Anchors()
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	gotAnchors := make(map[string]ledger.AnchorProof, len(anchors))
	for _, a := range anchors {
		gotAnchors[a.CID.String()] = a
	}
	if want := g.Anchors(tip); !maps.Equal(gotAnchors, want) {
		t.Fatalf("%s: first anchors at %s differ from the model:\n got %v\nwant %v", step, tip, gotAnchors, want)
	}
	checkChannels(t, c, g, tip, step)
}
