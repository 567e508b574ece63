package dht

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// TestProviderOffline: once the provider goes offline, lookups still end by
// themselves (nobody waits on the dead peer), and its record ages out of the
// network after the provider record validity.
//
// The library stamps provider records with the wall clock and offers no
// clock to inject, so the test shortens the validity every node applies
// (Config.ProvideValidity, passed to the library's provider manager as
// records.ProvideValidity) to a few seconds and waits, bounded, for the
// record to disappear. The provider's own reprovider is held still with an
// injected tick channel that never fires.
func TestProviderOffline(t *testing.T) {
	const (
		n        = 20
		provider = 5
		validity = 3 * time.Second
	)
	tn := newTestNet(t, n, func(i int, c *Config) {
		c.ProvideValidity = validity
		c.ReprovideInterval = validity / 2
		c.ReprovideTicks = make(chan time.Time)
	})
	ctx := t.Context()
	root := rootCID(t, "offline root")
	provID := tn.hosts[provider].ID()
	if err := tn.nodes[provider].Provide(ctx, root); err != nil {
		t.Fatalf("provide: %v", err)
	}
	providedAt := time.Now()

	tn.stop(t, provider)

	// Lookups end on their own: a full lookup (no limit) from every node
	// must close its channel before its context ends, and still report the
	// record while it is valid.
	for i, d := range tn.nodes {
		if d == nil {
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		start := time.Now()
		got, err := findAll(lctx, d, root, FindOptions{})
		ended := lctx.Err()
		cancel()
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		if ended != nil {
			t.Fatalf("node %d: lookup ran until its context ended (%v) instead of finishing", i, ended)
		}
		if time.Since(providedAt) < validity && !slices.Contains(got, provID) {
			t.Errorf("node %d: record of the offline provider missing before it expired: %v", i, got)
		}
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Errorf("node %d: lookup took %v with the provider offline", i, elapsed)
		}
	}

	// The record ages out everywhere.
	observer := tn.nodes[0]
	waitFor(t, validity+10*time.Second, func() bool {
		got, err := findAll(ctx, observer, root, FindOptions{})
		return err == nil && !slices.Contains(got, provID)
	}, func() string { return "the offline provider's record is still served" })
	if age := time.Since(providedAt); age < validity {
		t.Fatalf("record vanished after %v, before its validity %v", age, validity)
	}
	for i, d := range tn.nodes {
		if d == nil {
			continue
		}
		got, err := findAll(ctx, d, root, FindOptions{})
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		if slices.Contains(got, provID) {
			t.Errorf("node %d still finds the expired record: %v", i, got)
		}
	}
}

// TestRestartKeepsProvideSetAndRecords: the roots to reprovide survive a
// restart, an unprovided root does not come back, the first scheduled
// reprovide announces the survivors, and provider records a server stored
// for others survive its restart too.
func TestRestartKeepsProvideSetAndRecords(t *testing.T) {
	const (
		n      = 6
		prov   = 1
		server = 2
	)
	dirs := map[int]string{prov: t.TempDir(), server: t.TempDir()}
	ticks := make(chan time.Time)
	reprovided := make(chan ReprovideReport, 1)
	cfgFor := func(i int, c *Config) {
		c.DataDir = dirs[i]
		if i == prov {
			c.ReprovideTicks = ticks
			c.OnReprovide = func(r ReprovideReport, _ error) { reprovided <- r }
		}
	}
	tn := newTestNet(t, n, cfgFor)
	ctx := t.Context()
	kept, dropped := rootCID(t, "kept"), rootCID(t, "dropped")
	if err := tn.nodes[prov].Provide(ctx, kept); err != nil {
		t.Fatalf("provide kept: %v", err)
	}
	if err := tn.nodes[prov].Provide(ctx, dropped); err != nil {
		t.Fatalf("provide dropped: %v", err)
	}
	if had, err := tn.nodes[prov].Unprovide(ctx, dropped); err != nil || !had {
		t.Fatalf("unprovide: had=%v err=%v", had, err)
	}

	// Restart the providing node and the storing server (same hosts, same
	// directories).
	restart := func(i int) {
		if err := tn.nodes[i].Close(); err != nil {
			t.Fatalf("close node %d: %v", i, err)
		}
		c := Config{ForceServer: true, Logger: testLogger(t),
			BootstrapPeers: []peer.AddrInfo{{ID: tn.hosts[0].ID(), Addrs: tn.hosts[0].Addrs()}}}
		cfgFor(i, &c)
		d, err := New(tn.hosts[i], c)
		if err != nil {
			t.Fatalf("restart node %d: %v", i, err)
		}
		tn.nodes[i] = d
	}
	restart(prov)
	restart(server)

	// The server still holds the record it stored before the restart.
	stored, err := tn.nodes[server].kad.ProviderStore().GetProviders(ctx, kept.Hash())
	if err != nil {
		t.Fatalf("server provider store: %v", err)
	}
	if !slices.ContainsFunc(stored, func(ai peer.AddrInfo) bool { return ai.ID == tn.hosts[prov].ID() }) {
		t.Errorf("server lost the provider record across its restart: %v", stored)
	}

	// The provide set survived, without the unprovided root.
	roots, err := tn.nodes[prov].Provided(ctx)
	if err != nil {
		t.Fatalf("provided: %v", err)
	}
	if len(roots) != 1 || !roots[0].Equals(kept) {
		t.Fatalf("provide set after restart = %v, want [%s]", roots, kept)
	}

	// The scheduled reprovide (driven by the injected tick) announces it.
	if err := tn.nodes[prov].Bootstrap(ctx); err != nil {
		t.Fatalf("bootstrap after restart: %v", err)
	}
	ticks <- time.Now()
	rep := <-reprovided
	if rep.Roots != 1 || rep.Announced != 1 || rep.Failed != 0 {
		t.Fatalf("reprovide report %+v, want 1 root announced", rep)
	}
	st, err := tn.nodes[prov].Stats(ctx)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	if st.Roots != 1 || st.ProvidesPending != 0 || !st.LastReprovide.Equal(rep.At) || st.RoutingTableSize == 0 {
		t.Errorf("stats after reprovide = %+v", st)
	}
	got, err := findAll(ctx, tn.nodes[n-1], kept, FindOptions{LookupOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got, tn.hosts[prov].ID()) {
		t.Errorf("kept root not found after restart and reprovide: %v", got)
	}
}
