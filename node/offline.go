package node

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/myco-p2p/myco/chunker"
	"github.com/myco-p2p/myco/ledger"
)

// What the repo answers alone, with no daemon running: who the node is
// (its keys are in the repo, as kubo's `ipfs id` works offline) and, while
// no daemon holds the store, which roots it keeps.

// WalletAddress returns the address of the repo's wallet key.
func (r *Repo) WalletAddress() (string, error) {
	netw, err := ledger.ParseNetwork(r.Config.Network)
	if err != nil {
		return "", err
	}
	wk, err := ledger.LoadKey(r.File(WalletFile))
	if err != nil {
		return "", fmt.Errorf("load wallet key: %w", err)
	}
	return ledger.AddressFromPubKey(wk.PubKey()).Encode(netw.Params()), nil
}

// PeerID returns the peer id of the repo's identity key.
func (r *Repo) PeerID() (peer.ID, error) {
	sk, err := r.Identity()
	if err != nil {
		return "", err
	}
	return peer.IDFromPrivateKey(sk)
}

// OfflineID is the node's identity as the repo alone knows it: peer id,
// wallet address, network and version. Addresses, reachability and DHT
// mode exist only while a daemon runs: Addrs is empty and Reachability
// "offline".
func (r *Repo) OfflineID() (IDInfo, error) {
	id, err := r.PeerID()
	if err != nil {
		return IDInfo{}, err
	}
	addr, err := r.WalletAddress()
	if err != nil {
		return IDInfo{}, err
	}
	return IDInfo{ID: id.String(), Addrs: []string{}, Address: addr, Network: r.Config.Network,
		Version: Version, Reachability: "offline"}, nil
}

// OfflineRoots lists the roots the store keeps, and the fetches paused in
// it, with no daemon running: it takes the repo lock for as long as it
// reads, so a daemon that starts meanwhile waits for nothing but fails
// with ErrRepoLocked, and so does OfflineRoots while a daemon runs.
func OfflineRoots(path string) ([]RootJSON, error) {
	repo, err := OpenRepo(path)
	if err != nil {
		return nil, err
	}
	lock, err := repo.Lock()
	if err != nil {
		if errors.Is(err, ErrRepoLocked) {
			return nil, fmt.Errorf("a daemon holds the repo %s but does not answer (it may be starting or stopping): try again", path)
		}
		return nil, err
	}
	defer lock.Close()
	store, err := chunker.Open(repo.File("content"), slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, fmt.Errorf("open the content store: %w", err)
	}
	defer store.Close()
	roots, err := store.Roots()
	if err != nil {
		return nil, fmt.Errorf("list roots: %w", err)
	}
	out := make([]RootJSON, 0, len(roots))
	for _, r := range roots {
		out = append(out, rootJSON(r))
	}
	inc, err := store.Incoming()
	if err != nil {
		return nil, fmt.Errorf("list paused fetches: %w", err)
	}
	for _, in := range inc {
		out = append(out, RootJSON{CID: in.Root.String(), State: "paused", Reason: "resumes when the daemon starts", Dest: in.Dest})
	}
	return out, nil
}
