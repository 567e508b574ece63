package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/myco-p2p/myco/node"
)

// carCommands are the commands that move DAGs to and from other IPFS
// tools as CAR files.
func carCommands() []*command { return []*command{cmdExport(), cmdImport()} }

// checkRootArg checks a CID|NAME[/PATH] argument's root part before the
// daemon is asked.
func checkRootArg(s string) error {
	root, _, _ := strings.Cut(s, "/")
	if node.CheckName(root) == nil {
		return nil
	}
	_, err := parseCID(root)
	return err
}

func cmdExport() *command {
	var timeout *time.Duration
	var out *string
	return &command{
		name:    "export",
		args:    "CID|NAME[/PATH]",
		summary: "write a root's whole DAG as a CAR file (CARv1, blocks in DAG order) to stdout or -o FILE, for `ipfs dag import` and other IPFS tools",
		minArgs: 1, maxArgs: 1,
		flags: func(fs *flag.FlagSet) {
			timeout = fs.Duration("timeout", time.Minute, "when not here: fail when no peer has it for this long")
			out = fs.String("o", "", "write the CAR to this file instead of stdout (refused if it exists)")
		},
		run: func(e *env, args []string) error {
			dst := e.stdout
			var f *os.File
			if *out != "" {
				var err error
				if f, err = os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); err != nil {
					return fmt.Errorf("export: %w", err)
				}
				dst = f
			}
			err := streamRoot(e, args[0], dst, func(c *node.Client, w io.Writer) error {
				_, err := c.ExportCAR(e.ctx, args[0], *timeout, w)
				return err
			})
			if f != nil {
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					os.Remove(*out) // only the file this command created
				}
			}
			return err
		},
	}
}

// streamRoot checks a CID|NAME[/PATH] argument, then lets stream write
// the daemon's answer to dst through a buffer.
func streamRoot(e *env, arg string, dst io.Writer, stream func(c *node.Client, w io.Writer) error) error {
	if err := checkRootArg(arg); err != nil {
		return err
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(dst, 1<<20)
	err = stream(c, w)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return err
}

func cmdImport() *command {
	return &command{
		name:    "import",
		args:    "FILE.car|-",
		summary: "keep the DAGs of a CAR file (v1 or v2; - reads stdin): every block is verified against its CID, the roots are kept and provided, and a truncated or corrupt CAR keeps nothing; prints each root",
		minArgs: 1, maxArgs: 1,
		run: func(e *env, args []string) error {
			var r io.Reader
			if args[0] == "-" {
				r = os.Stdin
			} else {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				defer f.Close()
				r = f
			}
			return show(e, func(c *node.Client) (node.CARImportJSON, error) {
				res, err := c.ImportCAR(e.ctx, bufio.NewReaderSize(r, 1<<20))
				if err == nil && len(res.Roots) == 0 {
					err = errors.New("import: the CAR names no root")
				}
				return res, err
			}, func(res node.CARImportJSON) {
				for _, root := range res.Roots {
					fmt.Fprintln(e.stdout, root.CID)
				}
			})
		},
	}
}
