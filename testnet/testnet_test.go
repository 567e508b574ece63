package testnet

import (
	"slices"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/myco-p2p/myco/internal/leakcheck"
)

func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m)
}

func connected(nw *Network, i, j int) bool {
	return nw.Node(i).Host().Network().Connectedness(nw.Node(j).Host().ID()) == network.Connected
}

func TestMockStarPartitionHealRestart(t *testing.T) {
	nw := New(t, Mock, 4)
	nw.Star()
	for i := 1; i < 4; i++ {
		if !connected(nw, i, 0) || !connected(nw, 0, i) {
			t.Fatalf("node %d and 0 not connected after Star", i)
		}
	}
	ids := func(i int) []string {
		var out []string
		for _, p := range nw.Node(i).Peers() {
			out = append(out, p.ID)
		}
		return out
	}
	if got := ids(0); len(got) != 3 {
		t.Fatalf("node 0 peers = %v; want 3", got)
	}

	nw.Partition([]int{0, 1}, []int{2, 3})
	if connected(nw, 2, 0) || nw.Linked(0, 2) || nw.Linked(1, 3) {
		t.Fatal("partition left a link or connection across")
	}
	if !connected(nw, 1, 0) {
		t.Fatal("partition cut a link within a group")
	}
	if nw.Node(2).Host().Connect(t.Context(), nw.AddrInfo(0)) == nil {
		t.Fatal("dial across a partition succeeded")
	}
	nw.Heal()
	nw.Connect(2, 0)
	if !connected(nw, 0, 2) {
		t.Fatal("not connected after heal")
	}

	id3 := nw.Node(3).Host().ID()
	nw.Kill(3)
	if nw.Node(3) != nil {
		t.Fatal("killed node still listed")
	}
	nw.Restart(3)
	if nw.Node(3).Host().ID() != id3 {
		t.Fatal("restarted node has a new identity")
	}
	nw.Connect(3, 0)
	if !slices.Contains(ids(0), id3.String()) {
		t.Fatalf("node 0 does not see restarted node 3: %v", ids(0))
	}
}

func TestLoopbackNodesConnect(t *testing.T) {
	nw := New(t, Loopback, 3)
	nw.Star()
	for i := 1; i < 3; i++ {
		if !connected(nw, 0, i) {
			t.Fatalf("loopback node %d not connected to 0", i)
		}
		for _, a := range nw.Node(i).ID().Addrs {
			if !strings.HasPrefix(a, "/ip4/127.0.0.1/") {
				t.Errorf("node %d listens on %s; want loopback IPv4 only", i, a)
			}
		}
	}
}
