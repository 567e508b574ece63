package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/myco-p2p/myco/node"
)

func cmdPublish() *command {
	var name, fee *string
	var timeout *time.Duration
	return &command{
		name:    "publish",
		args:    "CID",
		summary: "anchor a CID on the ledger (proof of existence), optionally under a name; prints the transaction id",
		minArgs: 1, maxArgs: 1,
		flags: func(fs *flag.FlagSet) {
			name = fs.String("name", "", "also point this name at the CID (3-63 of a-z, 0-9, -)")
			fee = fs.String("fee", "0", "fee in base units")
			timeout = fs.Duration("timeout", 10*time.Minute, "how long to wait for a new name's claim (the daemon goes on after)")
		},
		run: func(e *env, args []string) error {
			if _, err := parseCID(args[0]); err != nil {
				return err
			}
			if *name != "" {
				if err := node.CheckName(*name); err != nil {
					return err
				}
			}
			if _, err := node.ParseAmount(*fee); err != nil {
				return fmt.Errorf("fee: %w", err)
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			if *name != "" && !e.json {
				fmt.Fprintf(e.stderr, "claiming %q: committing first, the claim follows when the commitment is deep enough\n", *name)
			}
			res, err := c.Publish(e.ctx, node.PublishRequest{CID: args[0], Name: *name, Fee: *fee, Timeout: timeout.String()})
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(res)
			}
			if res.Pending {
				return fmt.Errorf("the claim of %q is not submitted yet (commitment %s is not deep enough: is anyone mining?); the daemon will submit it", *name, res.Commit)
			}
			fmt.Fprintln(e.stdout, res.TxID)
			return nil
		},
	}
}

func cmdVerify() *command {
	return &command{
		name:    "verify",
		args:    "CID",
		summary: "prove that a CID existed: its first anchor on the ledger",
		minArgs: 1, maxArgs: 1,
		run: func(e *env, args []string) error {
			if _, err := parseCID(args[0]); err != nil {
				return err
			}
			return show(e, func(c *node.Client) (node.VerifyJSON, error) { return c.Verify(e.ctx, args[0]) }, func(v node.VerifyJSON) {
				fmt.Fprintf(e.stdout, "%s existed by %s\nblock %d %s (%d confirmations)\ntransaction %s\npublished by %s\n",
					v.CID, v.Time, v.Height, v.Block, v.Confirmations, v.Tx, v.Owner)
			})
		},
	}
}

func cmdResolve() *command {
	return &command{
		name:    "resolve",
		args:    "NAME",
		summary: "print the CID a name points to",
		minArgs: 1, maxArgs: 1,
		run: func(e *env, args []string) error {
			if err := node.CheckName(args[0]); err != nil {
				return err
			}
			return show(e, func(c *node.Client) (node.NameJSON, error) { return c.Resolve(e.ctx, args[0]) }, func(r node.NameJSON) {
				fmt.Fprintln(e.stdout, r.CID)
			})
		},
	}
}
