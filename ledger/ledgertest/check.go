package ledgertest

import (
	"errors"
	"maps"
	"testing"

	"github.com/myco-p2p/myco/ledger"
)

// Accounts returns every non-empty account at c's tip, failing t on error.
func Accounts(t testing.TB, c *ledger.Chain) map[ledger.Address]ledger.Account {
	t.Helper()
	a, err := c.Accounts()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// RuleCode returns the ErrorCode of a *ledger.RuleError in err's chain, or
// 0 when there is none.
func RuleCode(err error) ledger.ErrorCode {
	var re *ledger.RuleError
	if errors.As(err, &re) {
		return re.Code
	}
	return 0
}

// CheckIndexes compares the chain's name records, first anchors and
// payment channels with the generator's model after the named block.
func CheckIndexes(t testing.TB, c *ledger.Chain, g *Generator, tip, step string) {
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

// checkChannels compares the chain's channels with the generator's model
// after the named block, and each address's channel lists and locked
// deposits with what the channels say.
func checkChannels(t testing.TB, c *ledger.Chain, g *Generator, tip, step string) {
	t.Helper()
	chans, err := c.Channels()
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	got := make(map[ledger.Hash]ledger.Channel, len(chans))
	for _, ch := range chans {
		got[ch.ID] = ch
	}
	if want := g.Channels(tip); !maps.Equal(got, want) {
		t.Fatalf("%s: channels at %s differ from the model:\n got %v\nwant %v", step, tip, got, want)
	}
	addrs := make(map[ledger.Address]bool)
	for _, ch := range chans {
		addrs[ch.Payer()], addrs[ch.Payee] = true, true
	}
	for a := range addrs {
		pays, paid, err := c.ChannelsOf(a)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		var locked uint64
		for _, ch := range pays {
			if ch.Payer() != a || got[ch.ID] != ch {
				t.Fatalf("%s: ChannelsOf(%x) lists %+v as paid by it", step, a, ch)
			}
			if ch.State == ledger.ChannelOpen {
				locked += ch.Deposit
			}
		}
		for _, ch := range paid {
			if ch.Payee != a || got[ch.ID] != ch {
				t.Fatalf("%s: ChannelsOf(%x) lists %+v as paying it", step, a, ch)
			}
		}
		nPays, nPaid := 0, 0
		for _, ch := range chans {
			if ch.Payer() == a {
				nPays++
			}
			if ch.Payee == a {
				nPaid++
			}
		}
		if len(pays) != nPays || len(paid) != nPaid {
			t.Fatalf("%s: ChannelsOf(%x) lists %d and %d channels, want %d and %d", step, a, len(pays), len(paid), nPays, nPaid)
		}
		if l, err := c.LockedInChannels(a); err != nil || l != locked {
			t.Fatalf("%s: LockedInChannels(%x) = %d %v, want %d", step, a, l, err, locked)
		}
	}
}

// Replay feeds the consensus script to a chain step by step.
type Replay struct {
	C    *ledger.Chain
	S    *Script
	next int
}

// To feeds the steps after the last one fed, up to and including the step
// named last, checking only that the expected outcomes hold (the full
// checks are TestConsensusScript's).
func (r *Replay) To(t testing.TB, last string) {
	t.Helper()
	c := r.C
	for r.next < len(r.S.Tests) {
		tc := r.S.Tests[r.next]
		r.next++
		var err error
		switch {
		case tc.Raw != nil:
			continue
		case tc.Block != nil:
			_, err = c.ProcessBlock(tc.Block, tc.Now)
		default:
			_, err = c.AddTx(tc.Tx)
		}
		wantErr := tc.Want == Rejected || tc.Want == TxRejected
		if (err != nil) != wantErr || (wantErr && RuleCode(err) != tc.Code) {
			t.Fatalf("%s: %v, want code %v", tc.Name, err, tc.Code)
		}
		if tc.Name == last {
			return
		}
	}
	t.Fatalf("no step %q in the script", last)
}
