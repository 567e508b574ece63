package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/myco-p2p/myco/node"
	"github.com/myco-p2p/myco/testnet/lab"
)

// The lab benchmarks run real daemons in a network lab (testnet/lab): a
// public bootstrap node and a public relay, and homes behind routers of
// each kind. They need root and nftables, as the lab test does, and fail
// without them; testnet/bench.sh skips them there.
//
// Every attempt of BenchmarkLabDirectConn and BenchmarkLabPunch starts
// fresh home daemons, with new peer ids and repos, listening on a port no
// earlier attempt used, and stops them (by PID) when it ends: the routers'
// NAT mappings and conntrack entries of an earlier attempt match none of
// its packets, so none can pass for a hole punched.

const (
	// benchRsvpBound bounds how long a fresh home may take to find
	// itself private and hold a relay reservation.
	benchRsvpBound = 60 * time.Second
	// benchPunchBound is how long after `myco connect` to the other's
	// relay address a direct (not relayed) connection must appear for an
	// attempt to count as punched: go-libp2p's DCUtR makes up to three
	// attempts, each a round-trip measurement over the relay and dials
	// that time out after 5 s.
	benchPunchBound = 20 * time.Second
	// benchCLITimeout bounds one CLI run.
	benchCLITimeout = 2 * time.Minute
)

// benchLab is a lab with a public bootstrap node and a public relay, both
// offering circuit relay, and homes added by the caller. The lab's Close
// stops every daemon.
type benchLab struct {
	l        *lab.Lab
	dir      string // holds every repo; removed after the lab is closed
	bootMA   string
	relayMA  string
	nextPort atomic.Int32
	// pollEvery is how often a home is asked whether it holds a
	// reservation yet: each ask is a CLI run, and many homes at once
	// asking often load the machine.
	pollEvery time.Duration
	// punchPollEvery is how often, after `myco connect`, a home is asked
	// whether its connection is direct yet: the resolution of the times
	// measured, plus one CLI run.
	punchPollEvery time.Duration
}

// newBenchLab builds the lab, adds homes of the given kinds (in the order
// of names) and starts the public nodes, and servers more public nodes
// that offer no relay (DHT servers that answer AutoNAT's dial-back
// requests, as every node does), waiting until all find themselves
// public.
func newBenchLab(b *testing.B, names []string, kinds map[string]lab.Kind, servers int) *benchLab {
	b.Helper()
	// Made before the lab, so the lab's Close (which stops the daemons)
	// runs before the repos are removed.
	bl := &benchLab{dir: b.TempDir(), pollEvery: 250 * time.Millisecond, punchPollEvery: 100 * time.Millisecond}
	bl.nextPort.Store(5000)
	bl.l = lab.New(b)
	for _, name := range names {
		bl.l.AddHome(name, kinds[name])
	}
	// startPublic starts a public node's daemon, offering a relay or not,
	// and returns it with its multiaddr.
	startPublic := func(name string, addr netip.Addr, relay bool, extra ...string) (*benchDaemon, string) {
		d, err := bl.start(name, labPort, func(c *node.Config) {
			c.Relay.Service = &relay
			c.DHT.Mode = node.DHTModeAuto
		}, extra...)
		if err != nil {
			b.Fatal(err)
		}
		id, err := d.id()
		if err != nil {
			b.Fatal(err)
		}
		return d, fmt.Sprintf("/ip4/%s/tcp/%d/p2p/%s", addr, labPort, id.ID)
	}
	boot, bootMA := startPublic("boot", bl.l.AddPublic("boot"), true)
	relay, relayMA := startPublic("relay", bl.l.AddPublic("relay"), true, "--bootstrap", bootMA)
	bl.bootMA, bl.relayMA = bootMA, relayMA
	publics := []*benchDaemon{boot, relay}
	for i := range servers {
		name := fmt.Sprintf("server%d", i+1)
		d, _ := startPublic(name, bl.l.AddPublic(name), false, "--bootstrap", bootMA)
		publics = append(publics, d)
	}
	var err error
	for _, p := range publics {
		var last labID
		if !poll(30*time.Second, 250*time.Millisecond, func() bool {
			last, err = p.id()
			return err == nil && last.Reachability == "public"
		}) {
			b.Fatalf("%s: reachability %q after 30 s (%v); want public\n%s", p.name, last.Reachability, err, p.log)
		}
	}
	return bl
}

// port returns a listen port no daemon of this lab used before.
func (bl *benchLab) port() int { return int(bl.nextPort.Add(1)) }

// benchDaemon is a myco daemon in a lab node. Its methods return errors
// rather than fail the benchmark: attempts run on goroutines of their own.
type benchDaemon struct {
	bl   *benchLab
	name string
	repo string
	cmd  *exec.Cmd
	log  *syncBuffer
}

// start makes a fresh repo (new peer id), changes its config, and starts a
// daemon on it in lab node name listening on TCP and QUIC port, then
// waits for its ready line.
func (bl *benchLab) start(name string, port int, change func(*node.Config), extra ...string) (*benchDaemon, error) {
	repo, err := os.MkdirTemp(bl.dir, name+"-")
	if err != nil {
		return nil, err
	}
	repo = filepath.Join(repo, "repo")
	if r, err := cli(exec.Command(mycoBin, "--repo", repo, "init", "--network", "dev")); err != nil || r.code != 0 {
		return nil, fmt.Errorf("%s: init: %v %s", name, err, r.stderr)
	}
	path := filepath.Join(repo, "config.json")
	c, err := node.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	change(&c)
	if err := c.Save(path); err != nil {
		return nil, err
	}
	args := append([]string{mycoBin, "--repo", repo, "daemon", "--api", "127.0.0.1:0",
		"--listen", fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", port),
		"--listen", fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", port),
	}, extra...)
	cmd := bl.l.Command(name, args...)
	out := newSyncBuffer()
	cmd.Stdout, cmd.Stderr = out, out
	if err := bl.l.Start(cmd); err != nil {
		return nil, err
	}
	d := &benchDaemon{bl: bl, name: name, repo: repo, cmd: cmd, log: out}
	if !out.waitFor(func(s string) bool { return strings.Contains(s, "daemon ready") }, nil, time.Minute) {
		d.stop()
		return nil, fmt.Errorf("%s: daemon not ready after a minute: %s", name, out)
	}
	return d, nil
}

// startHome starts a fresh home daemon in node name on a fresh port, with
// the lab's relay as its static relay.
func (bl *benchLab) startHome(name string) (*benchDaemon, error) {
	return bl.start(name, bl.port(), func(c *node.Config) {
		c.DHT.Mode = node.DHTModeAuto
		c.Relay.Static = []string{bl.relayMA}
	}, "--bootstrap", bl.bootMA)
}

// stop kills the daemon by its PID; the lab waits for it.
func (d *benchDaemon) stop() { _ = d.cmd.Process.Kill() } // it may have ended already

// run runs the CLI against the daemon, in its namespace.
func (d *benchDaemon) run(args ...string) (result, error) {
	cmd := d.bl.l.Command(d.name, append([]string{mycoBin, "--repo", d.repo}, args...)...)
	r, err := cli(cmd)
	if err == nil && r.code != 0 {
		err = fmt.Errorf("%s: %s: exit %d: %s", d.name, strings.Join(args, " "), r.code, strings.TrimSpace(r.stderr))
	}
	return r, err
}

func (d *benchDaemon) id() (labID, error) {
	var id labID
	r, err := d.run("id", "--json")
	if err == nil {
		err = json.Unmarshal([]byte(r.stdout), &id)
	}
	return id, err
}

// direct reports whether the daemon has a connection to peer id that is
// not relayed.
func (d *benchDaemon) direct(id string) (bool, error) {
	r, err := d.run("peers", "--json")
	if err != nil {
		return false, err
	}
	var peers []labPeer
	if err := json.Unmarshal([]byte(r.stdout), &peers); err != nil {
		return false, fmt.Errorf("%s: peers --json: %w", d.name, err)
	}
	for _, p := range peers {
		if p.ID != id {
			continue
		}
		for _, c := range p.Conns {
			if !c.Relayed {
				return true, nil
			}
		}
	}
	return false, nil
}

// reserved waits until the daemon is private and holds a relay
// reservation (on the lab's relay, or on the bootstrap node, which offers
// one too), and returns its relay address (the relay's when it has both)
// and when it first saw the daemon private.
func (d *benchDaemon) reserved(bound time.Duration) (labID, string, time.Time, error) {
	var last labID
	var relayAddr string
	var private time.Time
	var err error
	ok := poll(bound, d.bl.pollEvery, func() bool {
		if last, err = d.id(); err != nil {
			return false
		}
		if last.Reachability == "private" && private.IsZero() {
			private = time.Now()
		}
		// The relay's address if there is one, else the bootstrap
		// node's: both offer a relay.
		relayID := d.bl.relayMA[strings.LastIndex(d.bl.relayMA, "/")+1:]
		for _, a := range last.RelayAddrs {
			if relayAddr == "" || strings.Contains(a, "/p2p/"+relayID+"/p2p-circuit") {
				relayAddr = a
			}
		}
		return last.Reachability == "private" && relayAddr != ""
	})
	if !ok {
		return last, "", private, fmt.Errorf("%s: reachability %q, relay addrs %v after %v (%v); want private with a relay reservation",
			d.name, last.Reachability, last.RelayAddrs, bound, err)
	}
	return last, relayAddr, private, nil
}

// cli runs a CLI command and returns what it printed and its exit code.
func cli(cmd *exec.Cmd) (result, error) {
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Start(); err != nil {
		return result{}, fmt.Errorf("run %v: %w", cmd.Args, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(benchCLITimeout):
		_ = cmd.Process.Kill() // the process this call started
		<-done
		return result{}, fmt.Errorf("%v still running after %v", cmd.Args, benchCLITimeout)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		return result{}, fmt.Errorf("run %v: %w", cmd.Args, err)
	}
	return result{so.String(), se.String(), code}, nil
}

// punch is one attempt between two fresh homes: from connects to to's
// relay address once both hold a reservation.
type punch struct {
	ok      bool          // a direct connection appeared within benchPunchBound
	private time.Duration // from starting the daemons to both private
	rsvp    time.Duration // from starting the daemons to both reservations
	start   time.Duration // from starting the daemons to the direct connection
	connect time.Duration // from `myco connect` to the direct connection
	addr    string        // from's view of the connection afterwards
	conns   []string      // from's connections to to afterwards
}

// attempt starts fresh daemons in homes from and to, waits for both
// reservations, connects from to to through the relay and waits for a
// direct connection. It stops both daemons before it returns. An error is
// a failure of the set-up (a daemon that does not start, or gets no
// reservation), not of the punch.
func (bl *benchLab) attempt(from, to string) (punch, error) {
	var p punch
	t0 := time.Now()
	var ds [2]*benchDaemon
	var errs [2]error
	var wg sync.WaitGroup
	for i, name := range []string{from, to} {
		wg.Go(func() { ds[i], errs[i] = bl.startHome(name) })
	}
	wg.Wait()
	for _, d := range ds {
		if d != nil {
			defer d.stop()
		}
	}
	if err := errors.Join(errs[:]...); err != nil {
		return p, err
	}
	a := ds[0]
	var bID labID
	var bRelay string
	var private [2]time.Time
	for i, d := range ds {
		wg.Go(func() {
			var id labID
			var ra string
			id, ra, private[i], errs[i] = d.reserved(benchRsvpBound - time.Since(t0))
			if i == 1 {
				bID, bRelay = id, ra
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return p, err
	}
	tc := time.Now()
	p.rsvp = tc.Sub(t0)
	p.private = max(private[0].Sub(t0), private[1].Sub(t0))
	if _, err := a.run("connect", bRelay); err != nil {
		return p, fmt.Errorf("connect through the relay: %w", err)
	}
	var err error
	p.ok = poll(benchPunchBound-time.Since(tc), bl.punchPollEvery, func() bool {
		var ok bool
		ok, err = a.direct(bID.ID)
		return ok
	})
	td := time.Now()
	if err != nil {
		return p, err
	}
	p.start, p.connect = td.Sub(t0), td.Sub(tc)
	if r, err := a.run("peers", "--json"); err == nil {
		var peers []labPeer
		if json.Unmarshal([]byte(r.stdout), &peers) == nil {
			for _, q := range peers {
				if q.ID == bID.ID {
					p.addr = q.Addr
					for _, c := range q.Conns {
						p.conns = append(p.conns, c.Addr)
					}
				}
			}
		}
	}
	return p, nil
}

// median of ds, which it sorts.
func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	n := len(ds)
	if n%2 == 1 {
		return ds[n/2]
	}
	return (ds[n/2-1] + ds[n/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkLabDirectConn measures, ten times over, the time from starting
// two fresh home daemons behind cone NATs to a direct connection between
// them: each finds itself private and takes a reservation on the relay,
// then a connects to b's relay address and DCUtR punches through. It
// reports the median, min and max of that time (start-ms, min-start-ms,
// max-start-ms) and the median of its last part, from `myco connect` to
// the direct connection (connect-ms, an upper bound: it includes the run
// of `myco peers` that saw it), and the medians of the times until both
// homes were private (private-ms) and held a reservation (rsvp-ms).
// Two attempts run at a time, each with its own daemons and ports: the
// time is that of the daemons' timers, not of the CPU.
func BenchmarkLabDirectConn(b *testing.B) {
	const attempts = 10
	kinds := map[string]lab.Kind{"a": lab.Cone, "b": lab.Cone}
	bl := newBenchLab(b, []string{"a", "b"}, kinds, 0)
	b.ResetTimer()
	for range b.N {
		ps := make([]punch, attempts)
		errs := make([]error, attempts)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 2)
		for i := range attempts {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				ps[i], errs[i] = bl.attempt("a", "b")
			})
		}
		wg.Wait()
		var starts, connects, privates, rsvps []time.Duration
		for i, p := range ps {
			if errs[i] != nil {
				b.Fatalf("attempt %d: %v", i+1, errs[i])
			}
			if !p.ok {
				b.Logf("attempt %d: no direct connection within %v of connect; connections then: %v", i+1, benchPunchBound, p.conns)
				continue
			}
			b.Logf("attempt %d: direct at %s, %v after start (private after %v, reservations after %v), %v after connect", i+1, p.addr,
				p.start.Round(time.Millisecond), p.private.Round(time.Millisecond), p.rsvp.Round(time.Millisecond), p.connect.Round(time.Millisecond))
			starts = append(starts, p.start)
			connects = append(connects, p.connect)
			privates = append(privates, p.private)
			rsvps = append(rsvps, p.rsvp)
		}
		if len(starts) == 0 {
			b.Fatalf("no direct connection in %d attempts", attempts)
		}
		b.ReportMetric(float64(len(starts)), "direct")
		b.ReportMetric(attempts, "attempts")
		b.ReportMetric(ms(median(starts)), "start-ms")
		b.ReportMetric(ms(starts[0]), "min-start-ms")
		b.ReportMetric(ms(starts[len(starts)-1]), "max-start-ms")
		b.ReportMetric(ms(median(connects)), "connect-ms")
		b.ReportMetric(ms(median(privates)), "private-ms")
		b.ReportMetric(ms(median(rsvps)), "rsvp-ms")
	}
}

// BenchmarkLabPunch makes 20 hole-punch attempts for each pair of router
// kinds (cone-cone, cone-firewall, cone-symmetric, symmetric-symmetric;
// the first home of a pair connects to the second's relay address). The
// pairs run at the same time, each in homes of its own, and each pair
// runs benchPunchParallel attempts at once, every one with daemons of its
// own on ports of their own behind the pair's two routers. It reports,
// per pair, the attempts that got a direct connection within
// benchPunchBound (PAIR-punched, of attempts), those that got it within a
// second (PAIR-in-1s: the others took a second DCUtR round, after
// go-libp2p's 5 s dial timeout) and the median time from connect to the
// direct connection of those punched (PAIR-ms, with a resolution of 250 ms
// plus one CLI run), and the attempts whose set-up had to be
// started again (setup-retries; see benchSetupRetries).
func BenchmarkLabPunch(b *testing.B) {
	const attempts = 20
	pairs := []struct {
		name     string
		from, to lab.Kind
	}{
		{"cone-cone", lab.Cone, lab.Cone},
		{"cone-firewall", lab.Cone, lab.Firewall},
		{"cone-symmetric", lab.Cone, lab.Symmetric},
		{"symmetric-symmetric", lab.Symmetric, lab.Symmetric},
	}
	var names []string
	kinds := map[string]lab.Kind{}
	for i, p := range pairs {
		from, to := fmt.Sprintf("p%dx", i), fmt.Sprintf("p%dy", i)
		names = append(names, from, to)
		kinds[from], kinds[to] = p.from, p.to
	}
	bl := newBenchLab(b, names, kinds, benchServers)
	bl.pollEvery, bl.punchPollEvery = time.Second, 250*time.Millisecond
	b.ResetTimer()
	for range b.N {
		type outcome struct {
			p       punch
			err     error
			retries int
		}
		results := make([][]outcome, len(pairs))
		var wg sync.WaitGroup
		for i := range pairs {
			results[i] = make([]outcome, attempts)
			sem := make(chan struct{}, benchPunchParallel)
			for k := range attempts {
				wg.Go(func() {
					sem <- struct{}{}
					defer func() { <-sem }()
					o := &results[i][k]
					for o.retries = 0; ; o.retries++ {
						o.p, o.err = bl.attempt(fmt.Sprintf("p%dx", i), fmt.Sprintf("p%dy", i))
						if o.err == nil || o.retries == benchSetupRetries {
							break
						}
						b.Logf("%s attempt %d: set-up failed, starting it again with fresh daemons: %v", pairs[i].name, k+1, o.err)
					}
				})
			}
		}
		wg.Wait()
		b.ReportMetric(attempts, "attempts")
		retries := 0
		for i := range pairs {
			for _, o := range results[i] {
				retries += o.retries
			}
		}
		b.ReportMetric(float64(retries), "setup-retries")
		for i, pr := range pairs {
			var times []time.Duration
			for k, o := range results[i] {
				switch {
				case o.err != nil:
					b.Errorf("%s attempt %d: %v", pr.name, k+1, o.err)
				case o.p.ok:
					times = append(times, o.p.connect)
					b.Logf("%s attempt %d: direct %v after connect, at %s", pr.name, k+1, o.p.connect.Round(time.Millisecond), o.p.addr)
				case pr.from != lab.Symmetric && pr.to != lab.Symmetric:
					// Unexpected: say what the connection was.
					b.Logf("%s attempt %d: not punched; connections then: %v", pr.name, k+1, o.p.conns)
				}
			}
			b.ReportMetric(float64(len(times)), pr.name+"-punched")
			fast := 0
			for _, t := range times {
				if t < time.Second {
					fast++
				}
			}
			b.ReportMetric(float64(fast), pr.name+"-in-1s")
			if len(times) > 0 {
				b.ReportMetric(ms(median(times)), pr.name+"-ms")
			}
			b.Logf("%s: %d of %d punched within %v", pr.name, len(times), attempts, benchPunchBound)
		}
	}
}

// benchSetupRetries is how many times an attempt whose set-up failed (a
// home that got no reservation in time, or could not reach the relay to
// connect: with 32 homes starting at once some AutoNAT probe or dial may
// be refused or backed off) is started again, with fresh daemons, before
// it is an error. It never reached the hole punch, so it is no attempt at
// one.
const benchSetupRetries = 2

// benchServers is how many public nodes beyond the bootstrap node and the
// relay BenchmarkLabPunch adds to answer AutoNAT: each node answers at most
// 60 dial-back requests a minute (node/host.go), and 32 homes start at
// once and again every 20 to 40 s.
const benchServers = 4

// benchPunchParallel is how many attempts of one pair run at once. The
// relay accepts at most 8 connections from one address (go-libp2p's
// resource manager, per IPv4 /32), and every home daemon behind a NAT
// holds one to it from its router's address.
const benchPunchParallel = 4

// BenchmarkLabFetch measures a 256 MiB fetch between two homes behind cone
// NATs (hole-punched, direct) against the same fetch between two open
// homes (public addresses), in the same lab, every home's uplink capped at
// 100 Mbit/s. Each pair first exchanges a small file, so the timed fetch
// finds its peer connected (directly: the benchmark checks that neither
// pair's connection is relayed). Every file is random and fetched by one
// home only, so each fetch has one holder. It reports both rates (cone-MB/s,
// open-MB/s) and their ratio (x-open).
func BenchmarkLabFetch(b *testing.B) {
	const (
		size   = 256 << 20
		uplink = 100_000_000 // bits per second
	)
	kinds := map[string]lab.Kind{"a": lab.Cone, "b": lab.Cone, "oa": lab.Open, "ob": lab.Open}
	names := []string{"a", "b", "oa", "ob"}
	bl := newBenchLab(b, names, kinds, 0)
	for _, name := range names {
		bl.l.CapUplink(name, uplink)
	}
	ds := map[string]*benchDaemon{}
	for _, name := range names {
		d, err := bl.startHome(name)
		if err != nil {
			b.Fatal(err)
		}
		ds[name] = d
	}
	for _, name := range []string{"a", "b"} {
		if _, _, _, err := ds[name].reserved(benchRsvpBound); err != nil {
			b.Fatal(err)
		}
	}
	dir := b.TempDir()
	// Each pair fetches content of its own: the same root would have the
	// first pair as extra holders for the second.
	random := func(name string, size int) string {
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 1<<20)
		for n := 0; n < size; n += len(buf) {
			rand.Read(buf)
			if _, err := f.Write(buf[:min(len(buf), size-n)]); err != nil {
				b.Fatal(err)
			}
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		return path
	}
	// fetch shares path on from and fetches it on to, and returns the
	// fetch's own time (`fetch --json` seconds).
	fetch := func(from, to *benchDaemon, path string) float64 {
		r, err := from.run("share", path)
		if err != nil {
			b.Fatal(err)
		}
		root := strings.TrimSpace(r.stdout)
		out := filepath.Join(dir, to.name+"-"+filepath.Base(path))
		r, err = to.run("fetch", root, "-o", out, "--json", "--timeout", "5m")
		if err != nil {
			b.Fatalf("%v\n%s:\n%s\n%s:\n%s", err, to.name, to.log, from.name, from.log)
		}
		var res struct {
			Seconds float64 `json:"seconds"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.Seconds <= 0 {
			b.Fatalf("fetch --json: %v: %q", err, r.stdout)
		}
		if err := sameFile(path, out); err != nil {
			b.Fatal(err)
		}
		os.Remove(out)
		return res.Seconds
	}
	b.ResetTimer()
	for range b.N {
		rates := map[string]float64{}
		for _, pair := range [][2]string{{"b", "a"}, {"ob", "oa"}} {
			from, to := ds[pair[0]], ds[pair[1]]
			fetch(from, to, random(from.name+"-small.bin", 1<<20))
			id, err := from.id()
			if err != nil {
				b.Fatal(err)
			}
			if ok, err := to.direct(id.ID); err != nil || !ok {
				b.Fatalf("%s has no direct connection to %s after the small fetch (%v)", to.name, from.name, err)
			}
			secs := fetch(from, to, random(from.name+"-big.bin", size))
			rates[pair[0]] = size / secs / 1e6
			b.Logf("%s fetched 256 MiB from %s in %.2f s (%.1f MB/s)", to.name, from.name, secs, rates[pair[0]])
		}
		b.ReportMetric(float64(uplink)/8/1e6, "cap-MB/s")
		b.ReportMetric(rates["b"], "cone-MB/s")
		b.ReportMetric(rates["ob"], "open-MB/s")
		b.ReportMetric(rates["b"]/rates["ob"], "x-open")
	}
}

// sameFile says how the file at got differs from the one at want, or nil.
func sameFile(want, got string) error {
	w, err := os.ReadFile(want)
	if err != nil {
		return err
	}
	g, err := os.ReadFile(got)
	if err != nil {
		return err
	}
	if string(w) != string(g) {
		return fmt.Errorf("%s differs from %s", got, want)
	}
	return nil
}
