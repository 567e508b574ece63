package main

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/myco-p2p/myco/node"
)

// Payment channels: a payer locks a deposit for one payee until an expiry
// height and pays it off-chain with vouchers; the payee closes the channel
// with the highest voucher (its daemon does so before expiry by itself).

func channelCommands() []*command {
	return []*command{
		cmdChannelOpen(), cmdChannelList(), cmdChannelClose(), cmdChannelRefund(),
		cmdChannelTopup(), cmdChannelPay(), cmdChannelAccept(),
	}
}

// checkAmounts checks amounts typed by the user, given as name, value
// pairs, before the daemon is asked, so a typo needs no daemon.
func checkAmounts(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if _, err := node.ParseAmount(pairs[i+1]); err != nil {
			return fmt.Errorf("%s: %w", pairs[i], err)
		}
	}
	return nil
}

func cmdChannelOpen() *command {
	var fee *string
	var expiry *uint64
	return &command{
		name:    "channel open",
		args:    "PAYEE DEPOSIT",
		summary: "lock DEPOSIT base units in a payment channel to PAYEE's address; prints the channel id",
		minArgs: 2, maxArgs: 2,
		flags: func(fs *flag.FlagSet) {
			fee = fs.String("fee", "0", "fee in base units")
			expiry = fs.Uint64("expiry", 0, fmt.Sprintf("the channel's life in `BLOCKS` from the tip; the deposit comes back by refund after it (default %d on main, %d on dev)",
				node.DefaultChannelExpiryMain, node.DefaultChannelExpiryDev))
		},
		run: func(e *env, args []string) error {
			if err := checkAmounts("deposit", args[1], "fee", *fee); err != nil {
				return err
			}
			return show(e, func(c *node.Client) (node.ChannelTxJSON, error) {
				return c.OpenChannel(e.ctx, node.ChannelOpenRequest{Payee: args[0], Deposit: args[1], Expiry: *expiry, Fee: *fee})
			}, func(r node.ChannelTxJSON) {
				fmt.Fprintln(e.stdout, r.Channel)
			})
		},
	}
}

func cmdChannelList() *command {
	return &command{
		name:    "channel list",
		summary: "list the payment channels this node's wallet pays or is paid through",
		run: func(e *env, _ []string) error {
			return show(e, func(c *node.Client) ([]node.ChannelJSON, error) { return c.Channels(e.ctx) }, func(chs []node.ChannelJSON) {
				if len(chs) == 0 {
					fmt.Fprintln(e.stdout, "no payment channels")
					return
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tROLE\tSTATE\tDEPOSIT\tEXPIRY\tVOUCHER\tPAID\tCOUNTERPARTY")
				for _, ch := range chs {
					state := ch.State
					if ch.SettlingTx != "" {
						state += " (settling)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d (%+d)\t%d\t%d\t%s\n",
						ch.ID, ch.Role, state, ch.Deposit, ch.Expiry, ch.ExpiresIn, ch.HighestVoucher, ch.Paid, ch.Counterparty)
				}
				tw.Flush()
			})
		},
	}
}

func cmdChannelClose() *command {
	return channelTxCommand("channel close", "close a channel that pays this node with the highest voucher it accepted",
		(*node.Client).CloseChannel, func(r node.ChannelTxJSON) string {
			return fmt.Sprintf("closing channel %s with a voucher for %d: transaction %s", r.Channel, r.Amount, r.TxID)
		})
}

func cmdChannelRefund() *command {
	return channelTxCommand("channel refund", "take back the deposit of an expired channel this node pays",
		(*node.Client).RefundChannel, func(r node.ChannelTxJSON) string {
			return fmt.Sprintf("refunding %d from channel %s: transaction %s", r.Amount, r.Channel, r.TxID)
		})
}

// channelTxCommand is a command that submits one transaction on channel
// ID through call and says what it did with say.
func channelTxCommand(name, summary string, call func(*node.Client, context.Context, node.ChannelTxRequest) (node.ChannelTxJSON, error),
	say func(node.ChannelTxJSON) string) *command {
	var fee *string
	return &command{
		name:    name,
		args:    "ID",
		summary: summary,
		minArgs: 1, maxArgs: 1,
		flags: func(fs *flag.FlagSet) { fee = fs.String("fee", "0", "fee in base units") },
		run: func(e *env, args []string) error {
			if err := checkAmounts("fee", *fee); err != nil {
				return err
			}
			return show(e, func(c *node.Client) (node.ChannelTxJSON, error) {
				return call(c, e.ctx, node.ChannelTxRequest{Channel: args[0], Fee: *fee})
			}, func(r node.ChannelTxJSON) { fmt.Fprintln(e.stdout, say(r)) })
		},
	}
}

func cmdChannelTopup() *command {
	var fee *string
	var expiry *uint64
	return &command{
		name:    "channel topup",
		args:    "ID AMOUNT",
		summary: "add AMOUNT base units (may be 0) to the deposit of a channel this node pays",
		minArgs: 2, maxArgs: 2,
		flags: func(fs *flag.FlagSet) {
			fee = fs.String("fee", "0", "fee in base units")
			expiry = fs.Uint64("expiry", 0, "also move the expiry to `BLOCKS` from the tip (never earlier than it is)")
		},
		run: func(e *env, args []string) error {
			if err := checkAmounts("amount", args[1], "fee", *fee); err != nil {
				return err
			}
			return show(e, func(c *node.Client) (node.ChannelTxJSON, error) {
				return c.TopupChannel(e.ctx, node.ChannelTopupRequest{Channel: args[0], Amount: args[1], Expiry: *expiry, Fee: *fee})
			}, func(r node.ChannelTxJSON) {
				fmt.Fprintf(e.stdout, "topping up channel %s by %d, expiry %d: transaction %s\n", r.Channel, r.Amount, r.Expiry, r.TxID)
			})
		},
	}
}

func cmdChannelPay() *command {
	return &command{
		name:    "channel pay",
		args:    "ID AMOUNT",
		summary: "sign a voucher paying AMOUNT more base units in a channel this node pays; prints the voucher for the payee",
		minArgs: 2, maxArgs: 2,
		run: func(e *env, args []string) error {
			if err := checkAmounts("amount", args[1]); err != nil {
				return err
			}
			return show(e, func(c *node.Client) (node.VoucherJSON, error) {
				return c.PayChannel(e.ctx, node.ChannelPayRequest{Channel: args[0], Amount: args[1]})
			}, func(v node.VoucherJSON) {
				fmt.Fprintln(e.stdout, v.Voucher)
			})
		},
	}
}

func cmdChannelAccept() *command {
	return &command{
		name:    "channel accept",
		args:    "VOUCHER",
		summary: "keep a voucher received as payee (one at or below the highest kept is ignored)",
		minArgs: 1, maxArgs: 1,
		run: func(e *env, args []string) error {
			if _, err := node.ParseVoucher(args[0]); err != nil {
				return err
			}
			return show(e, func(c *node.Client) (node.AcceptJSON, error) {
				return c.AcceptVoucher(e.ctx, node.VoucherAcceptRequest{Voucher: args[0]})
			}, func(a node.AcceptJSON) {
				if a.Accepted {
					fmt.Fprintf(e.stdout, "accepted: channel %s now pays %d (was %d) of its deposit %d\n", a.Channel, a.Highest, a.Previous, a.Deposit)
					return
				}
				fmt.Fprintf(e.stdout, "ignored: the voucher pays %d, not above the %d already kept for channel %s\n", a.Amount, a.Highest, a.Channel)
			})
		},
	}
}
