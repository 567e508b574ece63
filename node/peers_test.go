package node

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func testPeerID(t *testing.T) peer.ID {
	t.Helper()
	_, pub, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestLoadPeers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, PeersFile)
	if got, err := loadPeers(path); err != nil || got != nil {
		t.Fatalf("missing file: %v %v; want no peers, no error", got, err)
	}
	var rps []rememberedPeer
	for i := range maxRememberedPeers + 10 {
		rps = append(rps, rememberedPeer{ID: testPeerID(t).String(), Addrs: []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", 4000+i)}})
	}
	rps[0].ID = "not-a-peer-id"
	rps[1].Addrs = []string{"garbage"}
	rps[2].Addrs = nil
	b, _ := json.Marshal(rps)
	os.WriteFile(path, b, 0o600)
	got, err := loadPeers(path)
	if err != nil {
		t.Fatal(err)
	}
	// Bounded to maxRememberedPeers read, of which three are unusable.
	if len(got) != maxRememberedPeers-3 {
		t.Errorf("loaded %d peers; want %d", len(got), maxRememberedPeers-3)
	}
	os.WriteFile(path, []byte("{not json"), 0o600)
	if _, err := loadPeers(path); err == nil {
		t.Error("a damaged peers.json loaded without error")
	}
}
