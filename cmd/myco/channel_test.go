package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/myco-p2p/myco/node"
)

// These tests run payment channels between real dev daemons: a miner M
// that only mines, a payer A it funds, and a payee B. Neither A nor B
// mines, so their balances move only by the transfers and channels the
// tests make (all with fee 0), and can be checked exactly. A new dev
// chain mines its first hundred blocks or so within a second (its
// difficulty starts at genesis's and ASERT raises it as the chain runs
// ahead of its 1 s schedule), then slows to about a block a second: the
// tests start once M is past that burst, and the payee closes 40 blocks
// before expiry (channels.close_margin), which leaves its close ample
// time to reach M.

// payeeCloseMargin is the payee's channels.close_margin.
const payeeCloseMargin = 40

// settledHeight is a height past the dev chain's first burst of blocks.
const settledHeight = 150

type walletJSON struct {
	Address          string `json:"address"`
	Balance          uint64 `json:"balance"`
	Nonce            uint64 `json:"nonce"`
	LockedInChannels uint64 `json:"locked_in_channels"`
}

func wallet(t *testing.T, repo string) walletJSON {
	t.Helper()
	return mycoJSON[walletJSON](t, repo, "wallet", "balance", "--json")
}

// channelNet is a miner and two wallets, the payer funded.
type channelNet struct {
	miner, payer, payee string // repos
	payerD, payeeD      *daemon
	boot                string // the miner's address, for restarts
	payeeAddr           string
	funds               uint64 // the payer's balance before any channel
}

func newChannelNet(t *testing.T, funds uint64) *channelNet {
	t.Helper()
	return startChannelNet(t, funds, payeeCloseMargin)
}

// startChannelNet is newChannelNet with the payee's close margin and
// more arguments for its daemon.
func startChannelNet(t *testing.T, funds uint64, payeeMargin int, payeeArgs ...string) *channelNet {
	t.Helper()
	n := &channelNet{miner: initRepo(t), payer: initRepo(t), payee: initRepo(t), funds: funds}
	if r := myco(t, n.payee, "config", "set", "channels.close_margin", strconv.Itoa(payeeMargin)); r.code != 0 {
		t.Fatalf("config set: %s", r.stderr)
	}
	startDaemon(t, n.miner, "--mine")
	n.boot = getID(t, n.miner).Addrs[0]
	n.payerD = startDaemon(t, n.payer, "--bootstrap", n.boot)
	n.payeeD = startDaemon(t, n.payee, append([]string{"--bootstrap", n.boot}, payeeArgs...)...)
	n.payeeAddr = getID(t, n.payee).Address
	waitHeight(t, n.miner, settledHeight)
	if r := myco(t, n.miner, "send", getID(t, n.payer).Address, strconv.FormatUint(funds, 10)); r.code != 0 {
		t.Fatalf("fund the payer: exit %d: %s", r.code, r.stderr)
	}
	if !poll(2*time.Minute, 200*time.Millisecond, func() bool { return wallet(t, n.payer).Balance == funds }) {
		t.Fatalf("the payer's balance never reached %d: %+v", funds, wallet(t, n.payer))
	}
	return n
}

// channelOf returns channel id as `channel list` on repo shows it, and
// false when it is not listed.
func channelOf(t *testing.T, repo, id string) (node.ChannelJSON, bool) {
	t.Helper()
	for _, ch := range mycoJSON[[]node.ChannelJSON](t, repo, "channel", "list", "--json") {
		if ch.ID == id {
			return ch, true
		}
	}
	return node.ChannelJSON{}, false
}

// waitChannel polls `channel list` on repo until channel id is in state.
func waitChannel(t *testing.T, repo, id, state string) node.ChannelJSON {
	t.Helper()
	var ch node.ChannelJSON
	if !poll(2*time.Minute, 200*time.Millisecond, func() bool {
		var ok bool
		ch, ok = channelOf(t, repo, id)
		return ok && ch.State == state
	}) {
		t.Fatalf("channel %s never %s on %s: %+v", id, state, repo, ch)
	}
	return ch
}

// open opens a channel from the payer to the payee and waits until both
// see it open.
func (n *channelNet) open(t *testing.T, deposit uint64, expiry int) node.ChannelTxJSON {
	t.Helper()
	o := mycoJSON[node.ChannelTxJSON](t, n.payer, "channel", "open", n.payeeAddr, strconv.FormatUint(deposit, 10), "--expiry", strconv.Itoa(expiry), "--json")
	if len(o.Channel) != 64 || o.TxID != o.Channel || o.Amount != deposit {
		t.Fatalf("channel open = %+v", o)
	}
	waitChannel(t, n.payer, o.Channel, "open")
	ch := waitChannel(t, n.payee, o.Channel, "open")
	if ch.Role != "payee" || ch.Deposit != deposit || ch.Expiry != o.Expiry {
		t.Fatalf("the payee lists %+v; want the channel of %+v", ch, o)
	}
	return o
}

// pay asks the payer for a voucher paying amount more and returns it.
func pay(t *testing.T, repo, id string, amount uint64, wantTotal uint64) string {
	t.Helper()
	v := mycoJSON[node.VoucherJSON](t, repo, "channel", "pay", id, strconv.FormatUint(amount, 10), "--json")
	if v.Amount != wantTotal || v.Added != amount || v.Channel != id || len(v.Voucher) == 0 {
		t.Fatalf("channel pay %d = %+v; want a voucher for the cumulative %d", amount, v, wantTotal)
	}
	return v.Voucher
}

func accept(t *testing.T, repo, voucher string) node.AcceptJSON {
	t.Helper()
	return mycoJSON[node.AcceptJSON](t, repo, "channel", "accept", voucher, "--json")
}

// TestChannelPaidClosedBeforeExpiryAndRefunded opens a channel, pays the
// payee with vouchers, and lets the payee's daemon close it before expiry
// by itself: the balances move by exactly the highest voucher. A second
// channel, never paid, is refunded after its expiry.
func TestChannelPaidClosedBeforeExpiryAndRefunded(t *testing.T) {
	const funds, deposit, deposit2 = 1_000_000, 10_000, 5000
	n := newChannelNet(t, funds)
	o := n.open(t, deposit, 2*payeeCloseMargin)
	id := o.Channel
	// A second channel, never paid, for the refund at the end.
	o2 := n.open(t, deposit2, 30)

	if w := wallet(t, n.payer); w.Balance != funds-deposit-deposit2 || w.LockedInChannels != deposit+deposit2 {
		t.Errorf("payer wallet with the channels open: %+v; want balance %d, %d locked", w, funds-deposit-deposit2, deposit+deposit2)
	}
	if r := myco(t, n.payer, "wallet", "balance"); !strings.Contains(r.stdout, "locked in channels: 15000") {
		t.Errorf("wallet balance does not show the locked deposit: %q", r.stdout)
	}

	v1 := pay(t, n.payer, id, 100, 100)
	v2 := pay(t, n.payer, id, 250, 350)
	if r := myco(t, n.payer, "channel", "pay", id, "1"); r.code != 0 || strings.TrimSpace(r.stdout) == v2 || len(strings.TrimSpace(r.stdout)) != len(v2) {
		t.Fatalf("channel pay prints %q (exit %d, %s); want a new voucher alone", r.stdout, r.code, r.stderr)
	}
	if a := accept(t, n.payee, v2); !a.Accepted || a.Highest != 350 || a.Previous != 0 || a.Deposit != deposit {
		t.Fatalf("accept the 350 voucher: %+v", a)
	}
	// A lower or equal voucher is ignored: exit 0, nothing changes.
	for _, v := range []string{v1, v2} {
		if a := accept(t, n.payee, v); a.Accepted || a.Highest != 350 {
			t.Errorf("accept a voucher at or below 350: %+v; want it ignored", a)
		}
	}
	if r := myco(t, n.payee, "channel", "accept", v1); r.code != 0 || !strings.HasPrefix(r.stdout, "ignored") {
		t.Errorf("channel accept of a lower voucher: exit %d, %q %s", r.code, r.stdout, r.stderr)
	}
	if ch, _ := channelOf(t, n.payer, id); ch.Role != "payer" || ch.HighestVoucher != 351 || ch.Counterparty != n.payeeAddr {
		t.Errorf("the payer lists %+v; want role payer, highest voucher 351", ch)
	}

	// What each side may not do, each a clear one-line error.
	// The same voucher with its signature's last digit changed.
	forged := []byte(v2)
	if forged[len(forged)-1] == '0' {
		forged[len(forged)-1] = '1'
	} else {
		forged[len(forged)-1] = '0'
	}
	for _, c := range []struct {
		name, repo string
		args       []string
		want       string
	}{
		{"payer closes", n.payer, []string{"channel", "close", id}, "only its payee closes it"},
		{"payee refunds", n.payee, []string{"channel", "refund", id}, "not by this node's wallet"},
		{"refund before expiry", n.payer, []string{"channel", "refund", id}, "a refund is valid from then on"},
		{"payee pays", n.payee, []string{"channel", "pay", id, "5"}, "not by this node's wallet"},
		{"over the deposit", n.payer, []string{"channel", "pay", id, strconv.Itoa(deposit)}, "more than the deposit"},
		{"bad channel id", n.payer, []string{"channel", "pay", "xyz", "5"}, "64-digit hex id"},
		{"unknown channel", n.payee, []string{"channel", "close", strings.Repeat("ab", 32)}, "no channel"},
		{"garbage voucher", n.payee, []string{"channel", "accept", "zz"}, "hex digits"},
		{"forged voucher", n.payee, []string{"channel", "accept", string(forged)}, "voucher refused"},
		{"voucher to the payer", n.payer, []string{"channel", "accept", v2}, "does not pay this node"},
		{"bad deposit", n.payer, []string{"channel", "open", n.payeeAddr, "lots"}, "deposit"},
		{"short expiry", n.payer, []string{"channel", "open", n.payeeAddr, "5", "--expiry", "2"}, "expiry 2 blocks"},
		{"open to itself", n.payer, []string{"channel", "open", getID(t, n.payer).Address, "5"}, "payee"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := myco(t, c.repo, c.args...)
			if r.code == 0 {
				t.Fatalf("exit 0; want an error (stdout %q)", r.stdout)
			}
			assertOneLine(t, r.stderr, c.want)
		})
	}

	// The payee's daemon closes the channel on its own before expiry,
	// with the highest voucher it accepted.
	closed := waitChannel(t, n.payee, id, "closed")
	if closed.Paid != 350 || closed.Settled >= o.Expiry || closed.HighestVoucher != 350 {
		t.Fatalf("closed channel %+v; want 350 paid before expiry %d", closed, o.Expiry)
	}
	waitHeight(t, n.payer, closed.Settled)
	if w := wallet(t, n.payee); w.Balance != 350 {
		t.Errorf("payee balance %d; want the voucher's 350", w.Balance)
	}
	if w := wallet(t, n.payer); w.Balance != funds-deposit2-350 || w.LockedInChannels != deposit2 {
		t.Errorf("payer wallet %+v; want %d and the second channel's %d locked", w, funds-deposit2-350, deposit2)
	}
	if r := myco(t, n.payee, "channel", "close", id); r.code == 0 || !strings.Contains(r.stderr, "was closed at height") {
		t.Errorf("close of a closed channel: exit %d, %s", r.code, r.stderr)
	}

	// A channel nobody paid through is left for the payer's refund.
	if r := myco(t, n.payee, "channel", "close", o2.Channel); r.code == 0 || !strings.Contains(r.stderr, "accepted no voucher") {
		t.Errorf("close without a voucher: exit %d, %s", r.code, r.stderr)
	}
	waitHeight(t, n.payer, o2.Expiry-1)
	ref := mycoJSON[node.ChannelTxJSON](t, n.payer, "channel", "refund", o2.Channel, "--json")
	if ref.Amount != deposit2 || len(ref.TxID) != 64 {
		t.Fatalf("refund = %+v", ref)
	}
	if ch := waitChannel(t, n.payer, o2.Channel, "refunded"); ch.Paid != 0 {
		t.Errorf("refunded channel %+v", ch)
	}
	if w := wallet(t, n.payer); w.Balance != funds-350 || w.LockedInChannels != 0 {
		t.Errorf("payer wallet after the refund %+v; want %d", w, funds-350)
	}
}

// TestChannelPayeeKilledClosesWithAcknowledgedVoucher kills the payee with
// SIGKILL right after it acknowledged a voucher: restarted, it still
// closes the channel with that voucher.
func TestChannelPayeeKilledClosesWithAcknowledgedVoucher(t *testing.T) {
	n := newChannelNet(t, 100_000)
	o := n.open(t, 2000, 2*payeeCloseMargin)
	v1 := pay(t, n.payer, o.Channel, 300, 300)
	accept(t, n.payee, v1)
	v2 := pay(t, n.payer, o.Channel, 200, 500)
	if a := accept(t, n.payee, v2); !a.Accepted || a.Highest != 500 {
		t.Fatalf("accept 500: %+v", a)
	}
	n.payeeD.kill()

	startDaemon(t, n.payee, "--bootstrap", n.boot)
	if ch, _ := channelOf(t, n.payee, o.Channel); ch.HighestVoucher != 500 || ch.State != "open" {
		t.Fatalf("after the restart the payee lists %+v; want the acknowledged 500, still open", ch)
	}
	if a := accept(t, n.payee, v1); a.Accepted || a.Highest != 500 {
		t.Errorf("accept 300 after the restart: %+v; want it ignored", a)
	}
	closed := waitChannel(t, n.payer, o.Channel, "closed")
	if closed.Paid != 500 || closed.Settled >= o.Expiry {
		t.Fatalf("closed %+v; want 500 paid before expiry %d", closed, o.Expiry)
	}
	waitHeight(t, n.payee, closed.Settled)
	if w := wallet(t, n.payee); w.Balance != 500 {
		t.Errorf("payee balance %d; want 500", w.Balance)
	}
}

// TestChannelPayerKilledBetweenStoreAndHandout kills the payer right after
// it stored a voucher and before it handed it out: restarted, it never
// signs that amount or a lower one again.
func TestChannelPayerKilledBetweenStoreAndHandout(t *testing.T) {
	n := newChannelNet(t, 100_000)
	o := n.open(t, 2000, 400)
	accept(t, n.payee, pay(t, n.payer, o.Channel, 100, 100))

	if err := n.payerD.stop(); err != nil {
		t.Fatalf("stop the payer: %v", err)
	}
	crashing := startDaemonEnv(t, n.payer, []string{node.EnvCrashAfterVoucherStore + "=1"}, "--bootstrap", n.boot)
	if r := myco(t, n.payer, "channel", "pay", o.Channel, "50"); r.code == 0 {
		t.Fatalf("channel pay answered from a payer that crashes before handing out: %q", r.stdout)
	}
	select {
	case <-crashing.exit:
	case <-time.After(30 * time.Second):
		t.Fatal("the payer did not crash after storing the voucher")
	}

	startDaemon(t, n.payer, "--bootstrap", n.boot)
	if ch, _ := channelOf(t, n.payer, o.Channel); ch.HighestVoucher != 150 {
		t.Fatalf("after the crash the payer lists %+v; want the stored 150", ch)
	}
	v := pay(t, n.payer, o.Channel, 10, 160)
	if a := accept(t, n.payee, v); !a.Accepted || a.Previous != 100 || a.Highest != 160 {
		t.Errorf("accept the voucher signed after the crash: %+v", a)
	}
}
