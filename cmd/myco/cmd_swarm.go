package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/myco-p2p/myco/node"
)

// cliGrace is how much longer than --timeout the CLI waits for the
// daemon's own timeout answer before giving up on its own.
const cliGrace = 3 * time.Second

// cancelGrace bounds the cancel request the CLI sends when it is
// interrupted or gives up.
const cancelGrace = 5 * time.Second

func cmdFetch() *command {
	var out, idle, pay *string
	var timeout *time.Duration
	var progress, force *bool
	return &command{
		name:    "fetch",
		args:    "CID|NAME[/PATH]",
		summary: "download a root from the swarm, verify it, write it, then keep seeding it",
		minArgs: 1, maxArgs: 1,
		flags: func(fs *flag.FlagSet) {
			out = fs.String("o", "", "where to write it (default: the sharer's name in the current directory, else ./CID)")
			force = fs.Bool("force", false, "replace the destination if it exists")
			timeout = fs.Duration("timeout", 0, "give up after this long in all, finding peers and downloading (0: no bound; a fetch with no provider fails after 60 s, one whose peers deliver nothing after --idle-limit)")
			idle = fs.String("idle-limit", "", "fail when peers deliver nothing for this long (default 10m)")
			progress = fs.Bool("progress", false, "draw the progress bar even when stderr is not a terminal")
			pay = fs.String("pay", "", "pay priced peers up to `MAX` base units in all for what they upload to us, through payment channels from the wallet (default from config channels.pay_max; 0: pay nothing)")
		},
		run: func(e *env, args []string) error {
			if *timeout < 0 {
				return usageError{"fetch: --timeout must not be negative"}
			}
			if *idle != "" {
				if d, err := time.ParseDuration(*idle); err != nil || d <= 0 {
					return usageError{fmt.Sprintf("fetch: --idle-limit %q: want a positive duration", *idle)}
				}
			}
			if *pay != "" {
				if _, err := node.ParseAmount(*pay); err != nil {
					return usageError{fmt.Sprintf("fetch: --pay: %v", err)}
				}
			}
			req := node.FetchRequest{Root: args[0], Force: *force, IdleLimit: *idle, Pay: *pay}
			if *timeout > 0 {
				req.Timeout = timeout.String()
			}
			if *out == "" {
				// The sharer's name replaces the fallback's last element
				// once the daemon learns it.
				cwd, err := os.Getwd()
				if err != nil {
					return fmt.Errorf("fetch: %w", err)
				}
				req.Dest, req.UseName = filepath.Join(cwd, filepath.Base(args[0])), true
			} else {
				abs, err := filepath.Abs(*out)
				if err != nil {
					return fmt.Errorf("fetch: %w", err)
				}
				req.Dest = abs
			}
			if _, err := os.Lstat(req.Dest); err == nil && !*force {
				return fmt.Errorf("fetch: %s already exists (use --force to replace it)", req.Dest)
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx := e.ctx
			if *timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, *timeout+cliGrace)
				defer cancel()
			}
			bar := newProgressBar(e.stderr, "fetch", *progress || isTerminal(os.Stderr) && e.stderr == os.Stderr)
			var last node.FetchEvent
			res, err := c.Fetch(ctx, req, func(ev node.FetchEvent) {
				if ev.Type == "progress" {
					last = ev
					bar.state = ev.State
					bar.update(ev.Bytes, ev.Size, ev.DownRate, ev.Peers, false)
				}
			})
			if err != nil {
				if last.Type != "" {
					bar.update(last.Bytes, last.Size, last.DownRate, last.Peers, true)
				}
				if ctx.Err() != nil {
					// Ctrl-C, or the daemon did not answer in time: the
					// fetch does not outlive the command.
					return abandon(e, c, args[0], last, *timeout, ctx)
				}
				return err
			}
			bar.update(res.Bytes, res.Bytes, 0, last.Peers, true)
			// exit 0 promises the destination holds the verified content.
			if err := checkFetched(res); err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]any{"cid": res.CID, "bytes": res.Bytes, "seconds": res.Seconds, "peers": res.Peers, "path": res.Path, "paid": res.Paid})
			}
			if res.Paid > 0 {
				fmt.Fprintf(e.stdout, "fetched %s to %s: %d bytes in %.2f s from %d peer(s), paid %d base units (%s coins)\n", res.CID, res.Path, res.Bytes, res.Seconds, res.Peers, res.Paid, node.FormatCoins(res.Paid))
				return nil
			}
			fmt.Fprintf(e.stdout, "fetched %s to %s: %d bytes in %.2f s from %d peer(s)\n", res.CID, res.Path, res.Bytes, res.Seconds, res.Peers)
			return nil
		},
	}
}

// checkFetched makes sure the path a "done" event names is there, with
// the right size for a file.
func checkFetched(res node.FetchEvent) error {
	if res.Path == "" {
		return fmt.Errorf("fetch %s: the daemon did not say where it wrote the content", res.CID)
	}
	st, err := os.Stat(res.Path)
	if err != nil {
		return fmt.Errorf("fetch %s: the daemon reported it written to %s, but it is not there: %w", res.CID, res.Path, err)
	}
	if !st.IsDir() && st.Size() != res.Bytes {
		return fmt.Errorf("fetch %s: %s holds %d bytes, not the %d fetched", res.CID, res.Path, st.Size(), res.Bytes)
	}
	return nil
}

// abandon cancels, on the daemon, a fetch whose command ends early
// (interrupted, or out of time), and says so.
func abandon(e *env, c *node.Client, root string, last node.FetchEvent, timeout time.Duration, ctx context.Context) error {
	if last.CID != "" {
		root = last.CID
	}
	cctx, cancel := context.WithTimeout(context.Background(), cancelGrace)
	defer cancel()
	_, cerr := c.Cancel(cctx, root, false)
	var ae *node.APIError
	if cerr != nil && !(errors.As(cerr, &ae) && (ae.Status == http.StatusNotFound || ae.Status == http.StatusConflict)) {
		fmt.Fprintf(e.stderr, "myco: cancel the fetch of %s: %v\n", root, cerr)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("fetch %s: timed out after %v; the fetch was cancelled and its partial data removed", root, timeout)
	}
	return fmt.Errorf("fetch %s: interrupted; the fetch was cancelled and its partial data removed", root)
}

func cmdSwarmStats() *command {
	return &command{
		name:    "swarm stats",
		summary: "every peer exchanged with since the daemon started: bytes and rates up and down, choked, interested",
		run: func(e *env, _ []string) error {
			return show(e, func(c *node.Client) ([]node.SwarmPeerInfo, error) { return c.SwarmStats(e.ctx) }, func(st []node.SwarmPeerInfo) {
				if len(st) == 0 {
					fmt.Fprintln(e.stdout, "no peers exchanged with yet")
					return
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "PEER\tUPLOADED\tUP RATE\tDOWNLOADED\tDOWN RATE\tCHOKED\tINTERESTED")
				var tot node.SwarmPeerInfo
				for _, p := range st {
					fmt.Fprintf(tw, "%s\t%s\t%s/s\t%s\t%s/s\t%v\t%v\n", p.ID,
						humanBytes(float64(p.Uploaded)), humanBytes(p.UpRate), humanBytes(float64(p.Downloaded)), humanBytes(p.DownRate), p.Choked, p.Interested)
					tot.Uploaded += p.Uploaded
					tot.Downloaded += p.Downloaded
					tot.UpRate += p.UpRate
					tot.DownRate += p.DownRate
				}
				fmt.Fprintf(tw, "total (%d peers)\t%s\t%s/s\t%s\t%s/s\t\t\n", len(st),
					humanBytes(float64(tot.Uploaded)), humanBytes(tot.UpRate), humanBytes(float64(tot.Downloaded)), humanBytes(tot.DownRate))
				tw.Flush()
			})
		},
	}
}

func cmdSwarmLimits() *command {
	var up, down *string
	var save *bool
	return &command{
		name:    "swarm limits",
		summary: "show or change the upload and download rate limits (bytes/s, k/M/G suffix; 0 is none); --save keeps them in the config",
		flags: func(fs *flag.FlagSet) {
			up = fs.String("max-upload", "", "new upload limit")
			down = fs.String("max-download", "", "new download limit")
			save = fs.Bool("save", false, "also write the limits to the config file, so they outlast this run")
		},
		run: func(e *env, _ []string) error {
			for _, r := range []string{*up, *down} {
				if r != "" {
					if _, err := node.ParseRate(r); err != nil {
						return err
					}
				}
			}
			return show(e, func(c *node.Client) (node.LimitsJSON, error) {
				return c.SetLimits(e.ctx, node.LimitsRequest{MaxUpload: *up, MaxDownload: *down, Save: *save})
			}, func(l node.LimitsJSON) {
				fmt.Fprintf(e.stdout, "max upload: %s\nmax download: %s\n", node.FormatRate(l.MaxUpload), node.FormatRate(l.MaxDownload))
				switch {
				case l.Saved:
					fmt.Fprintf(e.stdout, "saved to %s\n", l.Config)
				case l.Changed:
					fmt.Fprintln(e.stdout, "changed for this run only (add --save to keep it in the config)")
				}
			})
		},
	}
}

// watchEvery is how often `stat --watch` asks the daemon again.
const watchEvery = time.Second

func cmdStat() *command {
	var watch *bool
	return &command{
		name:    "stat",
		args:    "CID|NAME",
		summary: "a root in detail: state, name, destination, leaves, bytes, peers, bytes exchanged for it; --watch follows a fetch until it ends",
		minArgs: 1, maxArgs: 1,
		flags: func(fs *flag.FlagSet) {
			watch = fs.Bool("watch", false, "print again whenever it changes, until the fetch ends")
		},
		run: func(e *env, args []string) error {
			if *watch {
				return watchStat(e, args[0])
			}
			return show(e, func(c *node.Client) (node.SessionJSON, error) { return c.Stat(e.ctx, args[0]) }, func(st node.SessionJSON) {
				printStat(e, st)
			})
		},
	}
}

func printStat(e *env, st node.SessionJSON) {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 1, ' ', 0)
	kind := "file"
	if st.Dir {
		kind = "directory"
	}
	fmt.Fprintf(tw, "cid:\t%s\n", st.CID)
	fmt.Fprintf(tw, "name:\t%s (%s)\n", orDash(st.Name), kind)
	fmt.Fprintf(tw, "state:\t%s\n", stateText(st.State, st.Reason, st.Percent))
	if st.Dest != "" {
		fmt.Fprintf(tw, "dest:\t%s\n", st.Dest)
	}
	size := "?"
	if st.Size >= 0 {
		size = humanBytes(float64(st.Size))
	}
	fmt.Fprintf(tw, "bytes:\t%s of %s\n", humanBytes(float64(st.Bytes)), size)
	if st.Leaves > 0 {
		fmt.Fprintf(tw, "leaves:\t%d/%d\n", st.Have, st.Leaves)
	}
	fmt.Fprintf(tw, "peers:\t%d\n", st.Peers)
	fmt.Fprintf(tw, "uploaded:\t%s (%s/s)\n", humanBytes(float64(st.Uploaded)), humanBytes(st.UpRate))
	fmt.Fprintf(tw, "downloaded:\t%s (%s/s)\n", humanBytes(float64(st.Downloaded)), humanBytes(st.DownRate))
	fmt.Fprintf(tw, "kept:\t%v\n", st.Kept)
	tw.Flush()
}

// watchLine is one line of `stat --watch`.
func watchLine(st node.SessionJSON) string {
	return fmt.Sprintf("%s: %s, %d/%d leaves, %s, %d peer(s), down %s/s, up %s/s", st.CID, stateText(st.State, st.Reason, st.Percent),
		st.Have, st.Leaves, humanBytes(float64(st.Bytes)), st.Peers, humanBytes(st.DownRate), humanBytes(st.UpRate))
}

// watchStat polls the daemon every watchEvery and prints the root's state
// whenever it changes, until the fetch ends: exit 0 when it ended with the
// content here, an error saying why otherwise.
func watchStat(e *env, root string) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	t := time.NewTicker(watchEvery)
	defer t.Stop()
	var prev string
	seen := false
	for {
		st, err := c.Stat(e.ctx, root)
		var ae *node.APIError
		switch {
		case err != nil && seen && errors.As(err, &ae) && ae.Status == http.StatusNotFound:
			return fmt.Errorf("stat %s: the fetch ended and is gone (cancelled or removed)", root)
		case err != nil && seen && errors.Is(err, node.ErrNoDaemon):
			return node.ErrDaemonStopped
		case err != nil && seen && e.ctx.Err() == nil && !errors.As(err, &ae):
			return fmt.Errorf("stat %s: %v: %w", root, err, node.ErrDaemonStopped)
		case err != nil:
			return err
		}
		seen = true
		if line := watchLine(st); line != prev {
			prev = line
			if e.json {
				b, _ := json.Marshal(st)
				fmt.Fprintln(e.stdout, string(b))
			} else {
				fmt.Fprintln(e.stdout, line)
			}
		}
		if !st.Active() {
			switch st.State {
			case "failed", "cancelled", "broken":
				return fmt.Errorf("%s %s%s", st.CID, st.State, reasonText(st.Reason))
			}
			return nil
		}
		select {
		case <-e.ctx.Done():
			return e.ctx.Err()
		case <-t.C:
		}
	}
}

func reasonText(r string) string {
	if r == "" {
		return ""
	}
	return ": " + r
}
