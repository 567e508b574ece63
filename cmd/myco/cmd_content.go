package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/myco-p2p/myco/node"
)

func cmdShare() *command {
	var chunkSize, maxLinks *int
	var hidden *bool
	return &command{
		name:    "share",
		args:    "PATH",
		summary: "import a file or directory, keep it and provide it; prints the root CID",
		minArgs: 1, maxArgs: 1,
		flags: func(fs *flag.FlagSet) {
			chunkSize = fs.Int("chunk-size", 1<<20, "chunk size in bytes (262144 with --max-links 174 is IPFS's older profile)")
			maxLinks = fs.Int("max-links", 1024, "most links per DAG node")
			hidden = fs.Bool("hidden", false, "include files whose names start with a dot")
		},
		run: func(e *env, args []string) error {
			if args[0] == "" {
				return usageError{"share: the path is empty; name a file or directory"}
			}
			path, err := filepath.Abs(args[0])
			if err != nil {
				return fmt.Errorf("share %s: %w", args[0], err)
			}
			// The daemon reads the file itself; checking here first gives
			// the clearest message for a typo. Open follows a symlink, as
			// the store does for a top-level one.
			f, err := os.Open(path)
			if err != nil {
				return fmt.Errorf("share: %w", err)
			}
			f.Close()
			return show(e, func(c *node.Client) (node.RootJSON, error) {
				return c.Share(e.ctx, node.ShareRequest{Path: path, ChunkSize: *chunkSize, MaxLinks: *maxLinks, Hidden: *hidden})
			}, func(root node.RootJSON) {
				fmt.Fprintln(e.stdout, root.CID)
			})
		},
	}
}

func cmdCat() *command {
	var timeout *time.Duration
	return &command{
		name:    "cat",
		args:    "CID|NAME[/PATH]",
		summary: "write a file's content to stdout (fetching it first if it is not here); a PATH names a file inside a folder",
		minArgs: 1, maxArgs: 1,
		flags: func(fs *flag.FlagSet) {
			timeout = fs.Duration("timeout", time.Minute, "when not here: fail when no peer has it for this long")
		},
		run: func(e *env, args []string) error {
			return streamRoot(e, args[0], e.stdout, func(c *node.Client, w io.Writer) error {
				_, err := c.Cat(e.ctx, args[0], *timeout, w)
				return err
			})
		},
	}
}

func cmdLs() *command {
	return &command{
		name:    "ls",
		args:    "[CID[/PATH]]",
		summary: "list every root with its name, size and state (seeding, downloading 42%, failed: reason, broken: reason); with a CID, a directory's entries (a PATH names a folder inside it)",
		maxArgs: 1,
		run: func(e *env, args []string) error {
			if len(args) == 1 {
				return show(e, func(c *node.Client) ([]node.EntryJSON, error) { return c.ListDir(e.ctx, args[0]) }, func(entries []node.EntryJSON) {
					tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					for _, en := range entries {
						name, size := en.Name, humanBytes(float64(en.Size))
						if en.Dir {
							name, size = name+"/", "-"
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\n", en.CID, size, name)
					}
					tw.Flush()
				})
			}
			roots, err := roots(e)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(roots)
			}
			if len(roots) == 0 {
				fmt.Fprintln(e.stdout, "no roots yet (share a file with 'myco share PATH', or fetch one)")
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CID\tSIZE\tTYPE\tNAME\tSTATE")
			for _, r := range roots {
				kind := "file"
				if r.Dir {
					kind = "dir"
				}
				size := "?"
				if r.Size > 0 || r.State == "seeding" || r.State == "broken" {
					size = humanBytes(float64(r.Size))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.CID, size, kind, orDash(r.Name), stateText(r.State, r.Reason, r.Percent))
			}
			return tw.Flush()
		},
	}
}

// stateText is a lifecycle state as people read it: "downloading 42%",
// "failed: no peer provides the root", "seeding".
func stateText(state, reason string, pct float64) string {
	switch {
	case state == "downloading" || (state == "verifying" && pct > 0):
		return fmt.Sprintf("%s %.0f%%", state, pct)
	case reason != "":
		return state + ": " + reason
	}
	return state
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cmdRm() *command {
	return &command{
		name:    "rm",
		args:    "CID",
		summary: "drop a root: stop keeping and providing it (shared files themselves stay), cancel its fetch, or forget its failed fetch",
		minArgs: 1, maxArgs: 1,
		run: func(e *env, args []string) error {
			if _, err := parseCID(args[0]); err != nil {
				return err
			}
			return show(e, func(c *node.Client) (node.CancelResult, error) { return c.Remove(e.ctx, args[0]) }, func(r node.CancelResult) {
				switch r.Action {
				case "cancelled":
					fmt.Fprintf(e.stdout, "cancelled the fetch of %s and removed its partial data\n", r.CID)
				case "forgotten":
					fmt.Fprintf(e.stdout, "forgot the ended fetch of %s\n", r.CID)
				default:
					fmt.Fprintf(e.stdout, "removed %s\n", r.CID)
				}
			})
		},
	}
}

func cmdCancel() *command {
	var keep *bool
	return &command{
		name:    "cancel",
		args:    "CID|NAME",
		summary: "stop fetching a root and remove its partial data",
		minArgs: 1, maxArgs: 1,
		flags: func(fs *flag.FlagSet) {
			keep = fs.Bool("keep-partial", false, "keep the partial data (a later fetch to the same place reuses it)")
		},
		run: func(e *env, args []string) error {
			return show(e, func(c *node.Client) (node.CancelResult, error) { return c.Cancel(e.ctx, args[0], *keep) }, func(r node.CancelResult) {
				if r.KeptPartial {
					fmt.Fprintf(e.stdout, "cancelled the fetch of %s; its partial data is kept\n", r.CID)
					return
				}
				fmt.Fprintf(e.stdout, "cancelled the fetch of %s and removed its partial data\n", r.CID)
			})
		},
	}
}
