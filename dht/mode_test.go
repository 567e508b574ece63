package dht

import (
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
)

// TestModeFollowsReachability checks that an auto-mode node reports itself
// a client until the host finds itself public, then a server; a node forced
// to be a client stays one.
func TestModeFollowsReachability(t *testing.T) {
	mn := mocknet.New()
	t.Cleanup(func() { mn.Close() })
	h, err := mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(h, Config{Logger: testLogger(t), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if m := d.Mode(); m != "client" {
		t.Fatalf("auto mode before any reachability: %s; want client", m)
	}
	sub, err := h.EventBus().Subscribe(new(event.EvtLocalProtocolsUpdated))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	em, err := h.EventBus().Emitter(new(event.EvtLocalReachabilityChanged), eventbus.Stateful)
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	if err := em.Emit(event.EvtLocalReachabilityChanged{Reachability: network.ReachabilityPublic}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for d.Mode() != "server" {
		select {
		case e := <-sub.Out():
			if slices.Contains(e.(event.EvtLocalProtocolsUpdated).Added, ProtocolID) && d.Mode() != "server" {
				t.Fatalf("the DHT protocol was added but Mode says %s", d.Mode())
			}
		case <-deadline:
			t.Fatalf("public for 10 s, but Mode says %s", d.Mode())
		}
	}

	h2, err := mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	d2, err := New(h2, Config{ForceClient: true, Logger: testLogger(t), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d2.Close() })
	if m := d2.Mode(); m != "client" {
		t.Errorf("forced client: %s", m)
	}
}
