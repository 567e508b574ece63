package main

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type bwJSON struct {
	Total struct {
		TotalIn  int64 `json:"total_in"`
		TotalOut int64 `json:"total_out"`
	} `json:"total"`
	Protocols []struct {
		Protocol string  `json:"protocol"`
		TotalIn  int64   `json:"total_in"`
		TotalOut int64   `json:"total_out"`
		RateIn   float64 `json:"rate_in"`
		RateOut  float64 `json:"rate_out"`
	} `json:"protocols"`
}

// swarmBytes polls `stats bw --json` until ok holds for the swarm
// protocol's figures (libp2p's meters publish totals once a second).
func waitBW(t *testing.T, repo string, ok func(bwJSON, int64, int64) bool) bwJSON {
	t.Helper()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var bw bwJSON
	for deadline := time.Now().Add(20 * time.Second); ; <-tick.C {
		bw = mycoJSON[bwJSON](t, repo, "stats", "bw", "--json")
		var in, out int64
		for _, p := range bw.Protocols {
			if strings.HasPrefix(p.Protocol, "/myco/swarm") {
				in, out = p.TotalIn, p.TotalOut
			}
		}
		if ok(bw, in, out) {
			return bw
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats bw never showed the transfer: %+v", bw)
		}
	}
}

func TestStatsBWCountsTheTransferPerProtocol(t *testing.T) {
	seeder, leecher := initRepo(t), initRepo(t)
	startDaemon(t, seeder)
	startDaemon(t, leecher)
	if r := myco(t, leecher, "connect", getID(t, seeder).Addrs[0]); r.code != 0 {
		t.Fatalf("connect: %s", r.stderr)
	}
	data := make([]byte, 3<<20)
	rand.Read(data)
	src := filepath.Join(t.TempDir(), "src.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	root := strings.TrimSpace(myco(t, seeder, "share", src).stdout)
	if r := myco(t, leecher, "fetch", root, "-o", filepath.Join(t.TempDir(), "got.bin")); r.code != 0 {
		t.Fatalf("fetch: %s", r.stderr)
	}
	size := int64(len(data))
	// The file went up from the seeder and down to the leecher on the
	// swarm protocol; the totals hold at least that, and every protocol's
	// bytes add up to them.
	sum := func(bw bwJSON) (in, out int64) {
		for _, p := range bw.Protocols {
			in, out = in+p.TotalIn, out+p.TotalOut
		}
		return in, out
	}
	bw := waitBW(t, seeder, func(bw bwJSON, _, out int64) bool {
		in, o := sum(bw)
		return out >= size && bw.Total.TotalOut == o && bw.Total.TotalIn == in
	})
	if len(bw.Protocols) < 2 {
		t.Errorf("the seeder lists %d protocols; want the swarm's and the DHT's or ledger's at least: %+v", len(bw.Protocols), bw)
	}
	waitBW(t, leecher, func(bw bwJSON, in, _ int64) bool {
		i, o := sum(bw)
		return in >= size && bw.Total.TotalIn == i && bw.Total.TotalOut == o
	})
	r := myco(t, seeder, "stats", "bw")
	if r.code != 0 || !strings.Contains(r.stdout, "PROTOCOL") || !strings.Contains(r.stdout, "/myco/swarm") || !strings.Contains(r.stdout, "total") {
		t.Errorf("stats bw: %q %q", r.stdout, r.stderr)
	}
}
