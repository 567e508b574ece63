package testnet

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/myco-p2p/myco/node"
)

// TestPublishOnOneResolveAndFetchOnAnother is the mission in process: node
// 0 mines, shares a file and publishes it under a name; node 1 learns the
// chain by gossip and sync, resolves the name and fetches the file by name
// from the swarm.
func TestPublishOnOneResolveAndFetchOnAnother(t *testing.T) {
	nw := New(t, Mock, 3)
	nw.Star()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a hang guard, not a timing
	defer cancel()
	n0, n1 := nw.Node(0), nw.Node(1)

	if err := n0.StartMining(1); err != nil {
		t.Fatal(err)
	}
	defer n0.StopMining()
	if _, err := n0.WaitHeight(ctx, 3); err != nil {
		t.Fatal(err)
	}

	data := make([]byte, 3<<20+5)
	rand.Read(data)
	src := filepath.Join(t.TempDir(), "site.tar")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := n0.Share(ctx, node.ShareRequest{Path: src})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := n0.Publish(ctx, node.PublishRequest{CID: root.CID, Name: "in-process"})
	if err != nil {
		t.Fatal(err)
	}
	if pub.Pending || pub.Commit == "" || pub.TxID == "" {
		t.Fatalf("publish = %+v; want a commitment and a submitted claim", pub)
	}

	// Node 1 follows the chain until the claim is buried two deep there.
	claimed := n0.ChainStatus().Height + 2
	if _, err := n1.WaitHeight(ctx, claimed); err != nil {
		t.Fatal(err)
	}
	name, err := n1.Resolve("in-process")
	if err != nil {
		t.Fatalf("node 1 resolve: %v", err)
	}
	if name.CID != root.CID {
		t.Fatalf("node 1 resolves in-process to %s; want %s", name.CID, root.CID)
	}
	proof, err := n1.Verify(root.CID)
	if err != nil || proof.Tx != pub.TxID {
		t.Fatalf("node 1 verify = %+v, %v; want the claim %s", proof, err, pub.TxID)
	}

	dest := filepath.Join(t.TempDir(), "fetched.tar")
	var last node.FetchEvent
	err = n1.Fetch(ctx, node.FetchRequest{Root: "in-process", Dest: dest}, func(ev node.FetchEvent) error {
		last = ev
		return nil
	})
	if err != nil {
		t.Fatalf("node 1 fetch by name: %v", err)
	}
	if last.Type != "done" || last.CID != root.CID || last.Bytes != int64(len(data)) || last.Peers < 1 {
		t.Errorf("last fetch event = %+v", last)
	}
	got, err := os.ReadFile(dest)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("fetched file differs from the published one (%v)", err)
	}
}
