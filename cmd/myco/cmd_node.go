package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/myco-p2p/myco/node"
)

func cmdInit() *command {
	var network *string
	return &command{
		name:    "init",
		summary: "create the repo: config, peer identity and wallet key",
		flags: func(fs *flag.FlagSet) {
			network = fs.String("network", "main", "network to join: main or dev")
		},
		run: func(e *env, _ []string) error {
			res, err := node.InitRepo(e.repo, *network)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]string{
					"id": res.PeerID.String(), "address": res.Address, "network": res.Network, "repo": e.repo,
				})
			}
			fmt.Fprintf(e.stdout, "initialised %s repo at %s\npeer id: %s\naddress: %s\n",
				res.Network, e.repo, res.PeerID, res.Address)
			return nil
		},
	}
}

func cmdDaemon() *command {
	var listen, bootstrap multiFlag
	var api, logLevel, logFile, maxUp, maxDown, price *string
	var mine *bool
	var mineThreads *int
	return &command{
		name:    "daemon",
		summary: "run the node until interrupted (SIGINT or SIGTERM)",
		flags: func(fs *flag.FlagSet) {
			fs.Var(&listen, "listen", "`MULTIADDR` to listen on (repeatable; replaces the config's)")
			fs.Var(&bootstrap, "bootstrap", "peer `MULTIADDR` with /p2p/ID to dial at start (repeatable; replaces the config's)")
			api = fs.String("api", "", "`HOST:PORT` of the HTTP API (default from config: 127.0.0.1:5040 on main, 127.0.0.1:0 on dev; port 0 picks one)")
			logLevel = fs.String("log-level", "", "`LEVEL`: debug, info, warn or error (default from config)")
			logFile = fs.String("log-file", "", "log to this `file`, rotated at 10 MB, instead of stderr (default from config log_file; relative to the repo)")
			mine = fs.Bool("mine", false, "mine blocks")
			mineThreads = fs.Int("mine-threads", 1, "mining threads with --mine")
			maxUp = fs.String("max-upload", "", "upload limit in bytes/s (`RATE`), k/M/G suffix allowed")
			maxDown = fs.String("max-download", "", "download limit in bytes/s (`RATE`), k/M/G suffix allowed")
			price = fs.String("price", "", "charge `PRICE` base units per MiB uploaded: peers that pay get the regular upload slots, free peers only the optimistic one (default from config channels.price; 0: free)")
		},
		run: func(e *env, _ []string) error {
			threads := 0
			if *mine {
				if *mineThreads < 1 {
					return usageError{fmt.Sprintf("daemon: --mine-threads %d: want at least 1", *mineThreads)}
				}
				threads = *mineThreads
			}
			for _, r := range []string{*maxUp, *maxDown} {
				if r != "" {
					if _, err := node.ParseRate(r); err != nil {
						return err
					}
				}
			}
			// Under the Windows service manager, its stop request ends ctx.
			return node.RunUnderServiceManager(e.ctx, func(ctx context.Context) error {
				return node.RunDaemon(ctx, e.repo, node.DaemonOptions{
					Listen:    listen,
					Bootstrap: bootstrap,
					API:       *api,
					Mine:      threads,
					MaxUpload: *maxUp, MaxDownload: *maxDown,
					Price:    *price,
					LogLevel: *logLevel,
					LogFile:  *logFile,
					Stdout:   e.stdout,
					Stderr:   e.stderr,
				})
			})
		},
	}
}

func cmdID() *command {
	return &command{
		name:    "id",
		summary: "show this node's peer id, addresses, wallet address, network and reachability (without a daemon: what the repo knows)",
		run:     runID,
	}
}

func cmdPeers() *command {
	return &command{
		name:    "peers",
		summary: "list connected peers",
		run: func(e *env, _ []string) error {
			return show(e, func(c *node.Client) ([]node.PeerInfo, error) { return c.Peers(e.ctx) }, func(peers []node.PeerInfo) {
				for _, p := range peers {
					if p.Banned {
						fmt.Fprintf(e.stdout, "%s banned until %s: %s\n", p.ID, p.BanUntil, p.BanReason)
						continue
					}
					how := "direct"
					if p.Relayed {
						how = "relayed"
					}
					fmt.Fprintf(e.stdout, "%s %s %s %s\n", p.ID, p.Addr, how, p.Transport)
				}
			})
		},
	}
}

func cmdConnect() *command {
	return &command{
		name:    "connect",
		args:    "MULTIADDR",
		summary: "dial a peer at a multiaddr ending in /p2p/ID",
		minArgs: 1, maxArgs: 1,
		run: func(e *env, args []string) error {
			// Check the address here too: a typo gets its answer without
			// needing a daemon.
			if _, err := node.ParsePeerAddr(args[0]); err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			id, err := c.Connect(e.ctx, args[0])
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]string{"id": id})
			}
			fmt.Fprintf(e.stdout, "connected to %s\n", id)
			return nil
		},
	}
}

func cmdVersion() *command {
	return &command{
		name:    "version",
		summary: "print the version, commit and network",
		run: func(e *env, _ []string) error {
			network := "main"
			if r, err := node.OpenRepo(e.repo); err == nil {
				network = r.Config.Network
			}
			v := map[string]string{"version": node.Version, "commit": node.Commit(), "network": network}
			if e.json {
				return e.printJSON(v)
			}
			fmt.Fprintf(e.stdout, "myco %s\ncommit: %s\nnetwork: %s\n", v["version"], v["commit"], strings.TrimSpace(v["network"]))
			return nil
		},
	}
}
