package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/myco-p2p/myco/node"
)

// Commands that only read the repo answer without a daemon: `id` (peer id,
// wallet address, network), `wallet address`, and `ls` while no daemon
// holds the store. With a daemon they ask it, for what only it knows.

// idJSON is `myco id --json`: the daemon's answer, or the repo's alone
// with online false.
type idOut struct {
	node.IDInfo
	Online bool `json:"online"`
}

func runID(e *env, _ []string) error {
	id, err := daemonID(e)
	if errors.Is(err, node.ErrNoDaemon) {
		repo, rerr := node.OpenRepo(e.repo)
		if rerr != nil {
			return rerr
		}
		info, rerr := repo.OfflineID()
		if rerr != nil {
			return rerr
		}
		id, err = idOut{IDInfo: info}, nil
	}
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(id)
	}
	fmt.Fprintf(e.stdout, "peer id: %s\nnetwork: %s\naddress: %s\n", id.ID, id.Network, id.Address)
	if !id.Online {
		fmt.Fprintln(e.stdout, "daemon: not running (addresses and reachability are known while it runs: 'myco daemon')")
		return nil
	}
	fmt.Fprintf(e.stdout, "reachability: %s\n", id.Reachability)
	if len(id.NAT) > 0 {
		kinds := make([]string, 0, len(id.NAT))
		for proto, kind := range id.NAT {
			kinds = append(kinds, proto+" "+kind)
		}
		sort.Strings(kinds)
		fmt.Fprintf(e.stdout, "nat: %s\n", strings.Join(kinds, ", "))
	}
	fmt.Fprintf(e.stdout, "dht: %s\naddrs:\n", id.DHTMode)
	for _, a := range id.Addrs {
		fmt.Fprintf(e.stdout, "  %s\n", a)
	}
	if len(id.RelayAddrs) > 0 {
		fmt.Fprintf(e.stdout, "relay addrs:\n")
		for _, a := range id.RelayAddrs {
			fmt.Fprintf(e.stdout, "  %s\n", a)
		}
	}
	return nil
}

func daemonID(e *env) (idOut, error) {
	c, err := e.client()
	if err != nil {
		return idOut{}, err
	}
	info, err := c.ID(e.ctx)
	if err != nil {
		return idOut{}, err
	}
	return idOut{IDInfo: info, Online: true}, nil
}

// runWalletAddress reads the address from the repo's key: it needs no
// daemon.
func runWalletAddress(e *env, _ []string) error {
	repo, err := node.OpenRepo(e.repo)
	if err != nil {
		return err
	}
	addr, err := repo.WalletAddress()
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(map[string]string{"address": addr})
	}
	fmt.Fprintln(e.stdout, addr)
	return nil
}

// roots asks the daemon for the roots, or reads the store when no daemon
// runs.
func roots(e *env) ([]node.RootJSON, error) {
	c, err := e.client()
	if err == nil {
		var rs []node.RootJSON
		if rs, err = c.Roots(e.ctx); err == nil {
			return rs, nil
		}
	}
	if errors.Is(err, node.ErrNoDaemon) {
		return node.OfflineRoots(e.repo)
	}
	return nil, err
}
