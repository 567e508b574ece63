package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/myco-p2p/myco/node"
)

func cmdDHTFindProvs() *command {
	var num *int
	var timeout *time.Duration
	return &command{
		name:    "dht findprovs",
		args:    "CID",
		summary: "find the peers that provide a root, printing each as it is found",
		minArgs: 1, maxArgs: 1,
		flags: func(fs *flag.FlagSet) {
			num = fs.Int("num", 20, "stop after this many providers (0: no limit)")
			timeout = fs.Duration("timeout", time.Minute, "give up after this long")
		},
		run: func(e *env, args []string) error {
			// A malformed CID is answered here, daemon or not.
			if _, err := parseCID(args[0]); err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			provs := []node.ProviderInfo{}
			err = c.FindProviders(e.ctx, args[0], *num, *timeout, func(p node.ProviderInfo) error {
				if e.json {
					provs = append(provs, p)
					return nil
				}
				_, err := fmt.Fprintln(e.stdout, p.ID)
				return err
			})
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(provs)
			}
			return nil
		},
	}
}

func cmdDHTPeers() *command {
	return &command{
		name:    "dht peers",
		summary: "list the DHT routing table",
		run: func(e *env, _ []string) error {
			return show(e, func(c *node.Client) ([]node.DHTPeer, error) { return c.DHTPeers(e.ctx) }, func(peers []node.DHTPeer) {
				for _, p := range peers {
					fmt.Fprintln(e.stdout, p.ID)
				}
			})
		},
	}
}

func cmdDHTStat() *command {
	return &command{
		name:    "dht stat",
		summary: "show the routing table size, provides pending and the last reprovide",
		run: func(e *env, _ []string) error {
			return show(e, func(c *node.Client) (node.DHTStats, error) { return c.DHTStat(e.ctx) }, func(st node.DHTStats) {
				last := "never"
				if !st.LastReprovide.IsZero() {
					last = st.LastReprovide.Format(time.RFC3339)
				}
				fmt.Fprintf(e.stdout, "mode: %s\nrouting table: %d peers\nroots provided: %d\nprovides pending: %d\nlast reprovide: %s\n",
					st.Mode, st.RoutingTableSize, st.Roots, st.ProvidesPending, last)
				ps := st.ProviderStore
				fmt.Fprintf(e.stdout, "provider records stored: %d of %d (%d peers, at most %d each; %d evicted)\ndht on disk: %d bytes\n",
					ps.Records, ps.MaxRecords, ps.Peers, ps.MaxPerPeer, ps.Evicted, st.DiskBytes)
				if st.LastError != "" {
					fmt.Fprintf(e.stdout, "last error: %s\n", st.LastError)
				}
			})
		},
	}
}
