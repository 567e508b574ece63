package main

import (
	"regexp"
	"strings"
	"testing"
)

// goIdentifier matches an exported Go error name such as ErrZeroAmount.
var goIdentifier = regexp.MustCompile(`\bErr[A-Z][A-Za-z]+`)

// TestErrorsSayWhatHappenedInWords runs each command the issue quoted and
// checks its one line of stderr: the clear message, no Go identifier, no
// repeated wrapping, correct Unicode.
func TestErrorsSayWhatHappenedInWords(t *testing.T) {
	repo := initRepo(t)
	startDaemon(t, repo)
	self := strings.TrimSpace(myco(t, repo, "wallet", "address").stdout)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"zero amount", []string{"send", self, "0"}, "the amount is zero: a transfer moves at least 1 base unit"},
		{"insufficient balance", []string{"send", self, "5"}, "not enough coins: the balance 0 cannot cover 5 (amount 5 + fee 0); 'myco wallet balance' shows"},
		{"malformed cid", []string{"stat", "QmFoo"}, `"QmFoo" is not a CID (selected encoding not supported): a CID looks like bafybei`},
		{"bad varint", []string{"dht", "findprovs", "bafyzzzzzzz"}, `"bafyzzzzzzz" is not a CID (`},
		{"short cid", []string{"fetch", "b"}, `"b" is not a CID (cid too short)`},
		{"unicode name", []string{"publish", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "--name", "日本"},
			`name "日本": '日' is not allowed: names use only lower-case letters a-z, digits and '-'`},
		{"bad address", []string{"send", "garbage", "5"}, `"garbage" is not an address`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := myco(t, repo, c.args...)
			if r.code == 0 {
				t.Fatalf("exit 0; stdout %q", r.stdout)
			}
			assertOneLine(t, r.stderr, c.want)
			if id := goIdentifier.FindString(r.stderr); id != "" {
				t.Errorf("stderr shows the Go identifier %s: %q", id, r.stderr)
			}
			for _, rep := range []string{"invalid cid: invalid cid", "malformed CID: invalid cid", "æ"} {
				if strings.Contains(r.stderr, rep) {
					t.Errorf("stderr contains %q: %q", rep, r.stderr)
				}
			}
		})
	}
}
