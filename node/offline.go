package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/myco-p2p/myco/chunker"
	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/node/keyfile"
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
	wk, err := keyfile.Load(r.File(WalletFile))
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
// it, with no daemon running.
func OfflineRoots(path string) ([]RootJSON, error) {
	var out []RootJSON
	err := withOfflineStore(path, func(store *chunker.Store) error {
		roots, err := store.Roots()
		if err != nil {
			return fmt.Errorf("list roots: %w", err)
		}
		out = make([]RootJSON, 0, len(roots))
		for _, r := range roots {
			out = append(out, rootJSON(r))
		}
		inc, err := store.Incoming()
		if err != nil {
			return fmt.Errorf("list paused fetches: %w", err)
		}
		for _, in := range inc {
			out = append(out, RootJSON{CID: in.Root.String(), State: "paused", Reason: "resumes when the daemon starts", Dest: in.Dest})
		}
		return nil
	})
	return out, err
}

// OfflineGC is Node.GC with no daemon running, under the repo lock.
func OfflineGC(ctx context.Context, path string) (GCJSON, error) {
	var out GCJSON
	err := withOfflineStore(path, func(store *chunker.Store) error {
		res, err := store.GC(ctx)
		out = gcJSON(res)
		return err
	})
	return out, err
}

// withOfflineStore opens the repo's content store for fn while no daemon
// runs: it holds the repo lock meanwhile, so a daemon that starts then
// fails with ErrRepoLocked, as this does while a daemon runs.
func withOfflineStore(path string, fn func(*chunker.Store) error) error {
	repo, err := OpenRepo(path)
	if err != nil {
		return err
	}
	lock, err := repo.Lock()
	if err != nil {
		if errors.Is(err, ErrRepoLocked) {
			return fmt.Errorf("a daemon holds the repo %s but does not answer (it may be starting or stopping): try again", path)
		}
		return err
	}
	defer lock.Close()
	store, err := chunker.Open(repo.File("content"), slog.New(slog.DiscardHandler))
	if err != nil {
		return fmt.Errorf("open the content store: %w", err)
	}
	return errors.Join(fn(store), store.Close())
}
