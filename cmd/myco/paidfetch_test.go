package main

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/myco-p2p/myco/node"
)

// These tests pay for a fetch between real dev daemons (channelNet: a
// miner M, the payer A, the payee B) and kill one side with SIGKILL while
// the vouchers flow. B seeds a file with a price and an upload cap, A
// fetches it with a budget: A's daemon opens a channel to B and pays as
// the leaves come (swarm/pay.go: a voucher every 4 MiB received, each
// stored by A before it is sent; B stores each before it credits A and
// serves A at most 8 MiB ahead of its payments). After the kill and a
// restart the fetch finishes; B closes the channel on demand (its close
// margin is 2 blocks, so its daemon does not close the channel by itself
// during the test) and settle checks what the issue promises:
//   - B closes with the highest voucher it acknowledged, at least what it
//     had acknowledged at the kill (nothing paid is lost);
//   - A signed at most one voucher more than B acknowledged: one A stored
//     and sent as the kill came; it pays what A received since the one
//     before, at most B's credit (8 MiB) and a leaf;
//   - B's balance grew by exactly the closes' amounts and A's fell by
//     them (every fee is 0): a voucher is cumulative, so nothing is paid
//     twice;
//   - and the amount against the bytes: per test, below.
//
// A restarted B is found again by A's download at its next provider
// lookup (swarm FindInterval, 30 s), which makes the payee's test the
// longer one.

const (
	paidPrice  = 1000            // B's price, base units per MiB
	paidSize   = 32<<20 + 12345  // the file: 33 leaves, about 8 s at paidUpload
	paidUpload = "4M"            // B's upload cap
	paidBudget = 100_000         // A's budget: three times the file's price
	paidFunds  = 1_000_000       // A's balance at the start
	paidMargin = 2               // B's close margin: B closes on demand here
	stepMiB    = 4               // the swarm's payStep
	creditMiB  = 2 * stepMiB     // the swarm's payCredit
	mib        = uint64(1 << 20) // a MiB, and the file's leaf size
	killUnpaid = 3 * mib         // see waitPaid
)

// costOf is what n bytes cost at paidPrice, rounded up as the swarm does.
func costOf(n uint64) uint64 { return (n*paidPrice + mib - 1) / mib }

// paidFetch is a channelNet whose payee seeds a priced file.
type paidFetch struct {
	*channelNet
	data       []byte
	root, dest string
	listen     string // B's libp2p address (tcp), kept across its restart
}

func newPaidFetch(t *testing.T) *paidFetch {
	t.Helper()
	// B listens on a port of its own choosing once, and on that same
	// port again after its restart, so that A's peerstore stays right.
	n := startChannelNet(t, paidFunds, paidMargin, "--price", strconv.Itoa(paidPrice), "--max-upload", paidUpload)
	p := &paidFetch{channelNet: n, data: make([]byte, paidSize), dest: filepath.Join(t.TempDir(), "paid.bin")}
	rand.Read(p.data)
	src := filepath.Join(t.TempDir(), "priced.bin")
	if err := os.WriteFile(src, p.data, 0o644); err != nil {
		t.Fatal(err)
	}
	r := myco(t, n.payee, "share", src)
	if r.code != 0 {
		t.Fatalf("share: %s", r.stderr)
	}
	p.root = strings.TrimSpace(r.stdout)
	for _, a := range getID(t, n.payee).Addrs {
		if strings.Contains(a, "/tcp/") {
			p.listen = a[:strings.Index(a, "/p2p/")]
			break
		}
	}
	if p.listen == "" {
		t.Fatalf("the payee listens on no tcp address: %v", getID(t, n.payee).Addrs)
	}
	p.connect(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("payer's log:\n%s\npayee's log:\n%s", p.payerD.log, p.payeeD.log)
		}
	})
	return p
}

// connect connects A to B.
func (p *paidFetch) connect(t *testing.T) {
	t.Helper()
	if r := myco(t, p.payer, "connect", p.listen+"/p2p/"+getID(t, p.payee).ID); r.code != 0 {
		t.Fatalf("connect the payer to the payee: %s", r.stderr)
	}
}

// fetchAndKill starts A's paying fetch in the background, kills victim
// (A's or B's daemon) with SIGKILL where waitPaid waits, and returns the
// fetch and what B had acknowledged.
func (p *paidFetch) fetchAndKill(t *testing.T, victim *daemon) (*proc, uint64) {
	t.Helper()
	f := startMyco(t, p.payer, "", "fetch", "--pay", strconv.Itoa(paidBudget), p.root, "-o", p.dest)
	acked := p.waitPaid(t, f)
	victim.kill()
	t.Logf("killed %s after the payee acknowledged %d", victim.repo, acked)
	return f, acked
}

// channels returns the channels between A and B as repo lists them.
func (p *paidFetch) channels(t *testing.T, repo string) map[string]node.ChannelJSON {
	t.Helper()
	out := map[string]node.ChannelJSON{}
	for _, ch := range mycoJSON[[]node.ChannelJSON](t, repo, "channel", "list", "--json") {
		out[ch.ID] = ch
	}
	return out
}

// total sums the highest vouchers of chs.
func total(chs map[string]node.ChannelJSON) uint64 {
	var s uint64
	for _, ch := range chs {
		s += ch.HighestVoucher
	}
	return s
}

// waitPaid polls until the payee has acknowledged vouchers and the payer
// holds killUnpaid bytes of leaves (stored) beyond what they pay, while
// the fetch is still under way, and returns what the payee acknowledged:
// the tests kill a side there, with the payer close to its next voucher,
// owing the most it can on the stream.
func (p *paidFetch) waitPaid(t *testing.T, f *proc) uint64 {
	t.Helper()
	var acked uint64
	var st statJSON
	if !poll(time.Minute, 20*time.Millisecond, func() bool {
		acked = total(p.channels(t, p.payee))
		if acked == 0 {
			return false
		}
		st, _ = stat(t, p.payer, p.root)
		return uint64(st.Bytes) >= acked*mib/paidPrice+killUnpaid
	}) {
		t.Fatalf("the payee never acknowledged a voucher with the payer %d bytes further (acknowledged %d, stat %+v, fetch stderr %q)", killUnpaid, acked, st, f.stderr)
	}
	select {
	case <-f.done:
		t.Fatalf("the fetch ended before the kill: exit %d %s", f.code, f.stderr)
	default:
	}
	return acked
}

// restartPayee starts B again on its repo, address and terms.
func (p *paidFetch) restartPayee(t *testing.T) {
	t.Helper()
	p.payeeD = startDaemon(t, p.payee, "--bootstrap", p.boot, "--listen", p.listen,
		"--price", strconv.Itoa(paidPrice), "--max-upload", paidUpload)
}

// settle closes, on B, every channel B accepted vouchers in, waits until
// A sees each closed, and checks the promises of a paid fetch that
// survived a kill: B closes with the highest voucher it acknowledged
// (ackedAtKill is what it had acknowledged when a side was killed: the
// close carries at least that), A signed at most one voucher more than
// B acknowledged (one A stored and sent as the kill came), and the
// balances moved by exactly the closed amounts. It returns what the
// closes paid and what A signed in all.
func (p *paidFetch) settle(t *testing.T, ackedAtKill uint64) (paid, signed uint64) {
	t.Helper()
	assertFile(t, p.dest, p.data)
	accepted := p.channels(t, p.payee)
	issued := p.channels(t, p.payer)
	a, i := total(accepted), total(issued)
	t.Logf("the payee acknowledged %d (%d at the kill); the payer signed %d; the file costs %d", a, ackedAtKill, i, costOf(paidSize))
	if a < ackedAtKill {
		t.Errorf("the payee acknowledged %d in all after its restart; it had acknowledged %d before", a, ackedAtKill)
	}
	// A voucher pays what A received since the one before: a step
	// (4 MiB), or up to B's credit (8 MiB) and a leaf when A received
	// more while its channel opened. At most one of them, stored by A
	// before it was sent, can be lost to the kill.
	if maxLost := costOf(creditMiB*mib + mib); i < a || i-a > maxLost {
		t.Errorf("the payer signed %d, the payee acknowledged %d: want the payer ahead by at most %d (one voucher)", i, a, maxLost)
	}
	for id, ch := range accepted {
		if ch.Role != "payee" || ch.Counterparty != getID(t, p.payer).Address {
			t.Errorf("the payee lists %+v", ch)
		}
		if o, ok := issued[id]; !ok || o.Role != "payer" || o.HighestVoucher < ch.HighestVoucher {
			t.Errorf("the payee accepted %+v; the payer lists %+v", ch, o)
		}
	}

	// B closes each channel with the voucher it kept: on demand here, or
	// by itself when the tip came within its close margin of the
	// channel's expiry first (dev blocks can come faster than one a
	// second; a fetch then pays on in a new channel).
	var settled uint64
	for id, ch := range accepted {
		if ch.HighestVoucher == 0 {
			continue
		}
		r := myco(t, p.payee, "channel", "close", id, "--json")
		var c node.ChannelTxJSON
		switch {
		case r.code != 0 && strings.Contains(r.stderr, "was closed at height"):
			t.Logf("the payee's daemon had closed channel %s by itself", id)
		case r.code != 0:
			t.Fatalf("channel close %s: exit %d: %s", id, r.code, r.stderr)
		case json.Unmarshal([]byte(r.stdout), &c) != nil || c.Amount != ch.HighestVoucher:
			t.Errorf("channel close %s printed %q; want the acknowledged %d", id, r.stdout, ch.HighestVoucher)
		}
		closed := waitChannel(t, p.payer, id, "closed")
		if closed.Paid != ch.HighestVoucher {
			t.Errorf("channel %s closed paying %d; the payee acknowledged %d", id, closed.Paid, ch.HighestVoucher)
		}
		paid += closed.Paid
		settled = max(settled, closed.Settled)
	}
	if paid == 0 {
		t.Fatal("nothing was paid")
	}
	waitHeight(t, p.payee, settled)
	// Nobody mines on A or B and every fee is 0 (a fetch opens its
	// channel with fee 0, channel close defaults to 0): the balances
	// move by the closed amounts alone.
	if w := wallet(t, p.payee); w.Balance != paid {
		t.Errorf("the payee's balance is %d; want the %d its closes paid", w.Balance, paid)
	}
	open := uint64(0)
	for _, ch := range p.channels(t, p.payer) {
		if ch.State == "open" || ch.State == "pending" {
			open += ch.Deposit
		}
	}
	if w := wallet(t, p.payer); w.Balance != p.funds-paid-open || w.LockedInChannels != open {
		t.Errorf("the payer's wallet: %+v; want %d - %d paid = %d, %d locked in channels never paid", w, p.funds, paid, p.funds-paid-open, open)
	}
	return paid, i
}

// TestPaidFetchPayeeKilled kills the payee (the seeder) with SIGKILL once
// it has acknowledged vouchers; restarted, it serves the payer again,
// which pays on in its channel, and closes with the highest voucher it
// acknowledged.
func TestPaidFetchPayeeKilled(t *testing.T) {
	p := newPaidFetch(t)
	f, acked := p.fetchAndKill(t, p.payeeD)

	p.restartPayee(t)
	if a := total(p.channels(t, p.payee)); a < acked {
		t.Fatalf("restarted, the payee lists %d acknowledged; it had acknowledged %d", a, acked)
	}
	p.connect(t)
	r := f.wait(t, 2*time.Minute)
	if r.code != 0 {
		t.Fatalf("the fetch across the payee's restart: exit %d: %s", r.code, r.stderr)
	}
	paid, _ := p.settle(t, acked)
	// A, alive throughout, got each leaf once and paid for it on the
	// stream that brought it, except the leaves it got on the stream
	// the kill ended after its last voucher there (A counts what it owes
	// per stream): at most B's credit and a leaf.
	c := costOf(paidSize)
	t.Logf("paid %d for a file that costs %d", paid, c)
	if paid > c || paid+costOf(creditMiB*mib+mib) < c {
		t.Errorf("paid %d for a file that costs %d: want at most that, and at most %d less", paid, c, costOf(creditMiB*mib+mib))
	}
}

// TestPaidFetchPayerKilled kills the payer (the leecher) with SIGKILL
// once the payee has acknowledged vouchers; restarted, it resumes the
// download, and a fetch with a budget attaches to it and pays on.
func TestPaidFetchPayerKilled(t *testing.T) {
	p := newPaidFetch(t)
	f, acked := p.fetchAndKill(t, p.payerD)
	if r := f.wait(t, 30*time.Second); r.code == 0 {
		t.Fatalf("the fetch exited 0 when its daemon was killed: %s", r.stderr)
	}

	// Restarted, A resumes the download by itself, without a budget (a
	// resumed fetch has none); the fetch with --pay attaches to it and
	// raises its budget, and A's stream to B is opened again saying it
	// pays.
	p.payerD = startDaemon(t, p.payer, "--bootstrap", p.boot)
	r := startMyco(t, p.payer, "", "fetch", "--pay", strconv.Itoa(paidBudget), p.root, "-o", p.dest, "--json").wait(t, 2*time.Minute)
	if r.code != 0 {
		t.Fatalf("the fetch after the payer's restart: exit %d: %s", r.code, r.stderr)
	}
	var res struct {
		Paid uint64 `json:"paid"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("fetch --json: %v: %q", err, r.stdout)
	}
	st, _ := stat(t, p.payee, p.root) // B ran throughout: all it sent A
	paid, signed := p.settle(t, acked)
	t.Logf("paid %d (%d of it after the restart) for a file that costs %d; the payee sent %d bytes", paid, res.Paid, costOf(paidSize), st.Uploaded)
	if res.Paid == 0 || signed < acked+res.Paid {
		t.Errorf("after the restart the fetch paid %d; the payer signed %d in all, the payee had acknowledged %d at the kill: want the fetch to pay on top of it", res.Paid, signed, acked)
	}
	// Paid at most for the bytes B sent (a leaf A received and paid for
	// but had not stored at the kill came again, and was paid again).
	if st.Uploaded <= 0 || paid > costOf(uint64(st.Uploaded)) {
		t.Errorf("paid %d; the payee sent %d bytes, which cost %d", paid, st.Uploaded, costOf(uint64(max(st.Uploaded, 0))))
	}
}
