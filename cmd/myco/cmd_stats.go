package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/myco-p2p/myco/node"
)

func cmdStatsBW() *command {
	return &command{
		name:    "stats bw",
		summary: "bytes received and sent since the daemon started, and current rates, per protocol of myco (DHT, swarm, ledger) and in total",
		run: func(e *env, _ []string) error {
			return show(e, func(c *node.Client) (node.BandwidthJSON, error) { return c.Bandwidth(e.ctx) }, func(bw node.BandwidthJSON) {
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "PROTOCOL\tIN\tOUT\tRATE IN\tRATE OUT")
				line := func(name string, s node.BandwidthStats) {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s/s\t%s/s\n", name, humanBytes(float64(s.TotalIn)), humanBytes(float64(s.TotalOut)),
						humanBytes(s.RateIn), humanBytes(s.RateOut))
				}
				for _, p := range bw.Protocols {
					line(p.Protocol, p)
				}
				line("total", bw.Total)
				tw.Flush()
			})
		},
	}
}
