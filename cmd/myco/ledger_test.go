package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

func chainStatus(t *testing.T, repo string) (height uint64, tip string) {
	t.Helper()
	st := mycoJSON[struct {
		Height  uint64 `json:"height"`
		Tip     string `json:"tip"`
		Work    string `json:"work"`
		Bits    string `json:"bits"`
		Network string `json:"network"`
	}](t, repo, "chain", "status", "--json")
	if st.Network != "dev" || len(st.Tip) != 64 || st.Bits == "" {
		t.Fatalf("chain status = %+v", st)
	}
	if _, err := strconv.ParseUint(st.Work, 10, 64); err != nil && len(st.Work) < 20 {
		t.Fatalf("work %q is not a decimal string", st.Work)
	}
	return st.Height, st.Tip
}

type balance struct {
	Address string `json:"address"`
	Balance uint64 `json:"balance"`
	Nonce   uint64 `json:"nonce"`
}

func getBalance(t *testing.T, repo string, addr ...string) balance {
	t.Helper()
	return mycoJSON[balance](t, repo, append([]string{"wallet", "balance", "--json"}, addr...)...)
}

func waitHeight(t *testing.T, repo string, h uint64) {
	t.Helper()
	if r := myco(t, repo, "chain", "wait", strconv.FormatUint(h, 10), "--timeout", "2m"); r.code != 0 {
		t.Fatalf("chain wait %d: exit %d: %s", h, r.code, r.stderr)
	}
}

// TestMineSendAndConfirm runs a mining daemon: the chain grows, the
// coinbase pays the wallet, a transfer is mined, and balances move.
func TestMineSendAndConfirm(t *testing.T) {
	repo := initRepo(t)
	other := initRepo(t)
	startDaemon(t, repo, "--mine")
	startDaemon(t, other)
	to := strings.TrimSpace(myco(t, other, "wallet", "address").stdout)
	if !strings.HasPrefix(to, "mycod1") {
		t.Fatalf("wallet address %q", to)
	}

	waitHeight(t, repo, 3)
	r := myco(t, repo, "mine", "status", "--json")
	var ms struct {
		Mining   bool    `json:"mining"`
		HashRate float64 `json:"hashrate"`
		Threads  int     `json:"threads"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &ms); err != nil || !ms.Mining || ms.Threads != 1 {
		t.Fatalf("mine status = %q (%v)", r.stdout, err)
	}
	mine := getBalance(t, repo)
	if mine.Balance == 0 {
		t.Fatal("no coinbase reward after 3 blocks")
	}

	before, _ := chainStatus(t, repo)
	r = myco(t, repo, "send", to, "12345", "--fee", "7")
	if r.code != 0 {
		t.Fatalf("send: exit %d: %s", r.code, r.stderr)
	}
	txid := strings.TrimSpace(r.stdout)
	if len(txid) != 64 {
		t.Fatalf("send printed %q; want a transaction id", r.stdout)
	}
	waitHeight(t, repo, before+3)
	if got := getBalance(t, repo, to); got.Balance != 12345 || got.Address != to {
		t.Errorf("recipient balance = %+v; want 12345", got)
	}
	if got := getBalance(t, repo); got.Nonce != 1 {
		t.Errorf("sender nonce = %d; want 1", got.Nonce)
	}
	// The transfer is in a block that chain block shows.
	found := false
	last, _ := chainStatus(t, repo)
	for height := before + 1; height <= last && !found; height++ {
		r := myco(t, repo, "chain", "block", strconv.FormatUint(height, 10), "--json")
		if r.code != 0 {
			t.Fatalf("chain block %d: %s", height, r.stderr)
		}
		found = strings.Contains(r.stdout, txid)
	}
	if !found {
		t.Errorf("transaction %s not in blocks %d..%d", txid, before+1, last)
	}

	if r := myco(t, repo, "mine", "stop"); r.code != 0 || !strings.Contains(r.stdout, "not mining") {
		t.Errorf("mine stop: exit %d: %q %s", r.code, r.stdout, r.stderr)
	}
}

func TestLedgerErrorsAreOneLine(t *testing.T) {
	repo := initRepo(t)
	startDaemon(t, repo)
	addr := strings.TrimSpace(myco(t, repo, "wallet", "address").stdout)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"malformed address", []string{"send", "mycod1garbage", "10"}, "address"},
		{"main address on dev", []string{"send", "myco1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq", "10"}, "address"},
		{"bad amount", []string{"send", addr, "ten"}, "amount"},
		{"negative amount", []string{"send", addr, "--", "-5"}, "negative"},
		{"bad fee", []string{"send", addr, "5", "--fee", "x"}, "fee"},
		{"no funds", []string{"send", addr, "5"}, "balance"},
		{"bad balance address", []string{"wallet", "balance", "nope"}, "address"},
		{"bad block id", []string{"chain", "block", "xyz"}, "height or"},
		{"unknown block", []string{"chain", "block", "999999"}, "unknown block"},
		{"unknown hash", []string{"chain", "block", strings.Repeat("ab", 32)}, "unknown block"},
		{"bad threads", []string{"mine", "start", "--threads", "0"}, "threads"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := myco(t, repo, c.args...)
			if r.code == 0 {
				t.Fatalf("exit 0; want an error (stdout %q)", r.stdout)
			}
			assertOneLine(t, r.stderr, c.want)
		})
	}
	getID(t, repo)
}
