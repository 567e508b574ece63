package ledger_test

import (
	"maps"
	"testing"

	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/ledger/ledgertest"
)

// checkChannels compares the chain's channels with the generator's model
// after the named block, and each address's channel lists and locked
// deposits with what the channels say.
func checkChannels(t testing.TB, c *ledger.Chain, g *ledgertest.Generator, tip, step string) {
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
