package main

import (
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/myco-p2p/myco/node"
)

func cmdWalletAddress() *command {
	return &command{
		name:    "wallet address",
		summary: "print this node's wallet address",
		run:     runWalletAddress,
	}
}

func cmdWalletBalance() *command {
	return &command{
		name:    "wallet balance",
		args:    "[ADDR]",
		summary: "show the confirmed balance, the deposits locked in payment channels and the nonce of an address (default: this node's), in base units",
		maxArgs: 1,
		run: func(e *env, args []string) error {
			addr := ""
			if len(args) == 1 {
				addr = args[0]
			}
			return show(e, func(c *node.Client) (node.BalanceJSON, error) { return c.Balance(e.ctx, addr) }, func(b node.BalanceJSON) {
				fmt.Fprintf(e.stdout, "address: %s\nbalance: %d (%s coins)\nlocked in channels: %d (%s coins)\nnonce: %d\n",
					b.Address, b.Balance, node.FormatCoins(b.Balance), b.LockedInChannels, node.FormatCoins(b.LockedInChannels), b.Nonce)
			})
		},
	}
}

func cmdSend() *command {
	var fee *string
	return &command{
		name:    "send",
		args:    "ADDR AMOUNT",
		summary: "sign and submit a transfer of AMOUNT base units; prints the transaction id",
		minArgs: 2, maxArgs: 2,
		flags: func(fs *flag.FlagSet) {
			fee = fs.String("fee", "0", "fee in base units")
		},
		run: func(e *env, args []string) error {
			// Amounts are checked here too, so a typo needs no daemon.
			if _, err := node.ParseAmount(args[1]); err != nil {
				return err
			}
			if _, err := node.ParseAmount(*fee); err != nil {
				return fmt.Errorf("fee: %w", err)
			}
			return show(e, func(c *node.Client) (node.TxIDJSON, error) {
				return c.Send(e.ctx, node.SendRequest{To: args[0], Amount: args[1], Fee: *fee})
			}, func(res node.TxIDJSON) {
				fmt.Fprintln(e.stdout, res.TxID)
			})
		},
	}
}

func cmdChainStatus() *command {
	return &command{
		name:    "chain status",
		summary: "show the tip of the chain",
		run: func(e *env, _ []string) error {
			return show(e, func(c *node.Client) (node.ChainStatus, error) { return c.ChainStatus(e.ctx) }, func(st node.ChainStatus) {
				fmt.Fprintf(e.stdout, "network: %s\nheight: %d\ntip: %s\ntime: %s\nwork: %s\nbits: %s\nmempool: %d transactions\n",
					st.Network, st.Height, st.Tip, time.UnixMilli(st.Time).UTC().Format(time.RFC3339), st.Work, st.Bits, st.Mempool)
			})
		},
	}
}

func cmdChainBlock() *command {
	return &command{
		name:    "chain block",
		args:    "HEIGHT|HASH",
		summary: "show one block",
		minArgs: 1, maxArgs: 1,
		run: func(e *env, args []string) error {
			return show(e, func(c *node.Client) (node.BlockJSON, error) { return c.Block(e.ctx, args[0]) }, func(b node.BlockJSON) {
				fmt.Fprintf(e.stdout, "block %d %s\nprev: %s\ntime: %s\nconfirmations: %d\ntransactions: %d\n",
					b.Height, b.Hash, b.Prev, time.UnixMilli(b.Time).UTC().Format(time.RFC3339), b.Confirmations, len(b.Txs))
				for _, tx := range b.Txs {
					fmt.Fprintf(e.stdout, "  %s %s %s -> %s %d (fee %d)\n", tx.ID, tx.Kind, tx.From, tx.To, tx.Amount, tx.Fee)
				}
			})
		},
	}
}

func cmdChainWait() *command {
	var timeout *time.Duration
	return &command{
		name:    "chain wait",
		args:    "HEIGHT",
		summary: "wait until the chain reaches a height (for scripts)",
		minArgs: 1, maxArgs: 1,
		flags: func(fs *flag.FlagSet) {
			timeout = fs.Duration("timeout", 5*time.Minute, "give up after this long")
		},
		run: func(e *env, args []string) error {
			h, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return usageError{fmt.Sprintf("chain wait: height %q: want a whole number", args[0])}
			}
			return show(e, func(c *node.Client) (node.ChainStatus, error) { return c.WaitHeight(e.ctx, h, *timeout) }, func(st node.ChainStatus) {
				fmt.Fprintf(e.stdout, "height %d, tip %s\n", st.Height, st.Tip)
			})
		},
	}
}

func cmdMineStart() *command {
	var threads *int
	return &command{
		name:    "mine start",
		summary: "start mining",
		flags: func(fs *flag.FlagSet) {
			threads = fs.Int("threads", 1, "mining threads")
		},
		run: func(e *env, _ []string) error {
			if *threads < 1 {
				return usageError{fmt.Sprintf("mine start: --threads %d: want at least 1", *threads)}
			}
			return mine(e, *threads)
		},
	}
}

func cmdMineStop() *command {
	return &command{
		name:    "mine stop",
		summary: "stop mining",
		run:     func(e *env, _ []string) error { return mine(e, 0) },
	}
}

func mine(e *env, threads int) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	st, err := c.Mine(e.ctx, threads)
	if err != nil {
		return err
	}
	return printMineStatus(e, st)
}

func cmdMineStatus() *command {
	return &command{
		name:    "mine status",
		summary: "show whether the node mines, its threads and hash rate",
		run: func(e *env, _ []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			st, err := c.MineStatus(e.ctx)
			if err != nil {
				return err
			}
			return printMineStatus(e, st)
		},
	}
}

func printMineStatus(e *env, st node.MineStatus) error {
	if e.json {
		return e.printJSON(st)
	}
	if !st.Mining {
		fmt.Fprintf(e.stdout, "not mining (%d blocks found)\n", st.Blocks)
		return nil
	}
	fmt.Fprintf(e.stdout, "mining on %d thread(s) at %.0f hashes/s (%d blocks found)\n", st.Threads, st.HashRate, st.Blocks)
	return nil
}
