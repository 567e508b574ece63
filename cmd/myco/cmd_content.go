package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/myco-p2p/myco/dht"
	"github.com/myco-p2p/myco/ledger"
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
			path, err := filepath.Abs(args[0])
			if err != nil {
				return fmt.Errorf("share %s: %w", args[0], err)
			}
			// The daemon reads the file itself; checking here first gives
			// the clearest message for a typo.
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
		args:    "CID|NAME",
		summary: "write a file's content to stdout (fetching it first if it is not here)",
		minArgs: 1, maxArgs: 1,
		flags: func(fs *flag.FlagSet) {
			timeout = fs.Duration("timeout", time.Minute, "when not here: fail when no peer has it for this long")
		},
		run: func(e *env, args []string) error {
			if ledger.CheckName(args[0]) != nil {
				if _, err := dht.ParseCID(args[0]); err != nil {
					return err
				}
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			w := bufio.NewWriterSize(e.stdout, 1<<20)
			_, err = c.Cat(e.ctx, args[0], *timeout, w)
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
			return err
		},
	}
}

func cmdLs() *command {
	return &command{
		name:    "ls",
		summary: "list the roots this node keeps",
		run: func(e *env, _ []string) error {
			return show(e, func(c *node.Client) ([]node.RootJSON, error) { return c.Roots(e.ctx) }, func(roots []node.RootJSON) {
				for _, r := range roots {
					kind := "file"
					if r.Dir {
						kind = "dir"
					}
					fmt.Fprintf(e.stdout, "%s %d %s\n", r.CID, r.Size, kind)
				}
			})
		},
	}
}

func cmdRm() *command {
	return &command{
		name:    "rm",
		args:    "CID",
		summary: "stop keeping and providing a root (shared files themselves stay)",
		minArgs: 1, maxArgs: 1,
		run: func(e *env, args []string) error {
			if _, err := dht.ParseCID(args[0]); err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			if err := c.Remove(e.ctx, args[0]); err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]string{"cid": args[0]})
			}
			fmt.Fprintf(e.stdout, "removed %s\n", args[0])
			return nil
		},
	}
}
