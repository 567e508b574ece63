package main

import (
	"errors"
	"fmt"

	"github.com/myco-p2p/myco/node"
)

func cmdGC() *command {
	return &command{
		name:    "gc",
		summary: "free the blocks no kept root, fetch or unfinished share uses (what an interrupted run can leave); prints what it freed",
		run: func(e *env, _ []string) error {
			res, err := collect(e)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(res)
			}
			if res.Owners == 0 && len(res.Blocks) == 0 {
				fmt.Fprintln(e.stdout, "nothing to free: every block belongs to a kept root or a fetch")
				return nil
			}
			for _, c := range res.Blocks {
				fmt.Fprintf(e.stdout, "freed %s\n", c)
			}
			fmt.Fprintf(e.stdout, "freed %d blocks (%s) and released %d unused imports or fetches\n",
				len(res.Blocks), humanBytes(float64(res.Bytes)), res.Owners)
			return nil
		},
	}
}

// collect asks the daemon to collect garbage, or does it on the store when
// no daemon runs.
func collect(e *env) (node.GCJSON, error) {
	c, err := e.client()
	if err == nil {
		var res node.GCJSON
		if res, err = c.GC(e.ctx); err == nil {
			return res, nil
		}
	}
	if errors.Is(err, node.ErrNoDaemon) {
		return node.OfflineGC(e.ctx, e.repo)
	}
	return node.GCJSON{}, err
}
