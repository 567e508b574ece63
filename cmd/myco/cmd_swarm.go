package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/myco-p2p/myco/node"
	"github.com/myco-p2p/myco/swarm"
)

func cmdFetch() *command {
	var out *string
	var timeout *time.Duration
	var progress *bool
	return &command{
		name:    "fetch",
		args:    "CID|NAME",
		summary: "download a root from the swarm, verify it, write it, then keep seeding it",
		minArgs: 1, maxArgs: 1,
		flags: func(fs *flag.FlagSet) {
			out = fs.String("o", "", "where to write it (default: ./CID); must not exist")
			timeout = fs.Duration("timeout", time.Minute, "fail when no peer has the root for this long")
			progress = fs.Bool("progress", false, "draw the progress bar even when stderr is not a terminal")
		},
		run: func(e *env, args []string) error {
			dest := *out
			if dest == "" {
				dest = filepath.Base(args[0])
			}
			abs, err := filepath.Abs(dest)
			if err != nil {
				return fmt.Errorf("fetch: %w", err)
			}
			if _, err := os.Lstat(abs); err == nil {
				return fmt.Errorf("fetch: %s already exists", abs)
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			bar := newProgressBar(e.stderr, "fetch", *progress || isTerminal(os.Stderr) && e.stderr == os.Stderr)
			var last node.FetchEvent
			res, err := c.Fetch(e.ctx, node.FetchRequest{Root: args[0], Dest: abs, Timeout: timeout.String()}, func(ev node.FetchEvent) {
				if ev.Type == "progress" {
					last = ev
					bar.update(ev.Bytes, ev.Size, ev.DownRate, ev.Peers, false)
				}
			})
			if err != nil {
				if last.Type != "" {
					bar.update(last.Bytes, last.Size, last.DownRate, last.Peers, true)
				}
				return err
			}
			bar.update(res.Bytes, res.Bytes, 0, last.Peers, true)
			if e.json {
				return e.printJSON(map[string]any{"cid": res.CID, "bytes": res.Bytes, "seconds": res.Seconds, "peers": res.Peers, "path": res.Path})
			}
			fmt.Fprintf(e.stdout, "fetched %s to %s: %d bytes in %.2f s from %d peer(s)\n", res.CID, res.Path, res.Bytes, res.Seconds, res.Peers)
			return nil
		},
	}
}

func cmdSwarmStats() *command {
	return &command{
		name:    "swarm stats",
		summary: "per-peer exchange accounting: bytes and rates up and down, choked, interested",
		run: func(e *env, _ []string) error {
			return show(e, func(c *node.Client) ([]swarm.PeerInfo, error) { return c.SwarmStats(e.ctx) }, func(st []swarm.PeerInfo) {
				for _, p := range st {
					fmt.Fprintf(e.stdout, "%s up %s (%s/s) down %s (%s/s) choked=%v interested=%v\n", p.ID,
						humanBytes(float64(p.Uploaded)), humanBytes(p.UpRate), humanBytes(float64(p.Downloaded)), humanBytes(p.DownRate), p.Choked, p.Interested)
				}
			})
		},
	}
}

func cmdSwarmLimits() *command {
	var up, down *string
	return &command{
		name:    "swarm limits",
		summary: "show or change the upload and download rate limits (bytes/s, k/M/G suffix; 0 is none)",
		flags: func(fs *flag.FlagSet) {
			up = fs.String("max-upload", "", "new upload limit")
			down = fs.String("max-download", "", "new download limit")
		},
		run: func(e *env, _ []string) error {
			for _, r := range []string{*up, *down} {
				if r != "" {
					if _, err := swarm.ParseRate(r); err != nil {
						return err
					}
				}
			}
			return show(e, func(c *node.Client) (node.LimitsJSON, error) {
				return c.SetLimits(e.ctx, node.LimitsRequest{MaxUpload: *up, MaxDownload: *down})
			}, func(l node.LimitsJSON) {
				fmt.Fprintf(e.stdout, "max upload: %s\nmax download: %s\n", swarm.FormatRate(l.MaxUpload), swarm.FormatRate(l.MaxDownload))
			})
		},
	}
}

func cmdStat() *command {
	return &command{
		name:    "stat",
		args:    "CID|NAME",
		summary: "a root's session: leaves on disk, peers, rates",
		minArgs: 1, maxArgs: 1,
		run: func(e *env, args []string) error {
			return show(e, func(c *node.Client) (node.SessionJSON, error) { return c.Stat(e.ctx, args[0]) }, func(st node.SessionJSON) {
				fmt.Fprintf(e.stdout, "%s: %d/%d leaves, %s of %s, %d peer(s), up %s/s, down %s/s, downloading=%v kept=%v\n",
					st.CID, st.Have, st.Leaves, humanBytes(float64(st.Bytes)), humanBytes(float64(st.Size)), st.Peers,
					humanBytes(st.UpRate), humanBytes(st.DownRate), st.Downloading, st.Kept)
			})
		},
	}
}
