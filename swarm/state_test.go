package swarm

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/myco-p2p/myco/chunker"
)

// The scenarios in testdata/sessions drive a sessionState alone: no
// streams, no store, no clock but the script's. A script is a list of
// lines; '#' starts a comment. The first command sets the session up:
//
//	fetch leaves=N [have=0110] [known=no] [timeout=1m] [idle=10m] [usename] [requesttimeout=30s] [pipeline=2]
//	seed leaves=N [name=NAME] [superseed]
//
// Then events, each run at the script's clock (which starts at 0):
//
//	start                      the fetch begins
//	join P [leaves=N] [name=X] peer P's stream is admitted
//	leave P                    its stream ended
//	P sends MSG                a message from P (bitfield 1011, have 3,
//	                           interested, not-interested, choke, unchoke,
//	                           request leaf 3, request node, cancel leaf 3,
//	                           reject leaf 3 REASON, reject node REASON,
//	                           peers Q R)
//	P delivers leaf I|node     a block arrives from P
//	stored P leaf I|node       the store verified and wrote it
//	bad P                      the store found P's block corrupt
//	store fails TEXT           the store failed (a full disk)
//	sent P BYTES [leaf I]      a leaf of BYTES (leaf I, default 0) was sent to P
//	tick D [xN]                advance the clock by D and tick, N times
//	advance D                  advance the clock without a tick
//	candidate P / dialed P     discovery found P / a dial of P ended
//	finished ok|exists|TEXT    Finish returned
//	broken TEXT                a served block's source changed
//	cancel [keep] / stop       Cancel / Stop
//	fail TEXT                  Fail (a limit of the node's ran out)
//
// and checks of the effects of the events since the previous event:
//
//	expect EFFECT              one effect matches (and is consumed)
//	expect no EFFECT           none matches
//	expect state S / reason TEXT / name N
//
// An EFFECT is words: send P MSG, serve P leaf I, clear-serve P, store P
// leaf I, drop P, close P, ban P, dial P, pex P Q.., find, provide,
// set-dest NAME|original, finish, abort [keep], mark-broken, done, end
// TEXT. In a pattern '*' matches one word, '...' the rest, and '$x' binds
// a word on first use and must match it afterwards.
func TestSessionScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "sessions", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scenarios")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScenario(t, f) })
	}
}

type scenario struct {
	t       *testing.T
	file    string
	line    int
	st      *sessionState
	now     time.Time
	layout  *chunker.Layout
	root    cid.Cid
	pending []string
	vars    map[string]string
}

func runScenario(t *testing.T, file string) {
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := &scenario{t: t, file: file, now: time.Unix(0, 0).UTC(), vars: map[string]string{}}
	lines := bufio.NewScanner(fh)
	for lines.Scan() {
		sc.line++
		text := lines.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		words := strings.Fields(text)
		if len(words) == 0 {
			continue
		}
		sc.run(words)
	}
	if err := lines.Err(); err != nil {
		t.Fatal(err)
	}
}

func (sc *scenario) fatalf(format string, args ...any) {
	sc.t.Helper()
	sc.t.Fatalf("%s:%d: %s", sc.file, sc.line, fmt.Sprintf(format, args...))
}

func (sc *scenario) dur(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		sc.fatalf("duration %q: %v", s, err)
	}
	return d
}

func (sc *scenario) atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		sc.fatalf("number %q: %v", s, err)
	}
	return n
}

// options parses key=value words (a bare key is "true").
func options(words []string) map[string]string {
	out := map[string]string{}
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			v = "true"
		}
		out[k] = v
	}
	return out
}

func bitPattern(s string) *Bitfield {
	bf := NewBitfield(len(s))
	for i, c := range s {
		if c == '1' {
			bf.Set(i)
		}
	}
	return bf
}

func bitString(bf *Bitfield) string {
	var b strings.Builder
	for i := range bf.Len() {
		if bf.Has(i) {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
	}
	return b.String()
}

const leafBytes = 1024

func (sc *scenario) setup(kind string, opts map[string]string) {
	n := sc.atoi(opts["leaves"])
	sc.root = testCID(sc.t, "root")
	sc.layout = &chunker.Layout{Size: int64(n * leafBytes)}
	for i := range n {
		sc.layout.Leaves = append(sc.layout.Leaves, chunker.Leaf{Cid: testCID(sc.t, fmt.Sprint("leaf", i)), Offset: int64(i * leafBytes), Size: leafBytes})
	}
	cfg := stateConfig{
		self:           "self",
		picker:         PickerConfig{RandomFirst: 1, EndgamePeers: 2},
		pipeline:       PipelineConfig{Min: 2, Max: 4},
		requestTimeout: 30 * time.Second,
		pexInterval:    time.Hour,
		findInterval:   30 * time.Second,
		maxPeers:       8,
		timeout:        time.Minute,
		idleLimit:      10 * time.Minute,
	}
	var err error
	if cfg.picker, err = cfg.picker.withDefaults(); err != nil {
		sc.fatalf("%v", err)
	}
	if v, ok := opts["timeout"]; ok {
		cfg.timeout = sc.dur(v)
	}
	if v, ok := opts["idle"]; ok {
		cfg.idleLimit = sc.dur(v)
	}
	if v, ok := opts["requesttimeout"]; ok {
		cfg.requestTimeout = sc.dur(v)
	}
	if v, ok := opts["pipeline"]; ok {
		cfg.pipeline.Min = sc.atoi(v)
	}
	cfg.useName = opts["usename"] == "true"
	cfg.superSeed = opts["superseed"] == "true"
	rng := rand.New(rand.NewPCG(1, 2))
	ch, err := NewChoker(ChokerConfig{}.mustDefaults(), rng, sc.now)
	if err != nil {
		sc.fatalf("%v", err)
	}
	layout := sc.layout
	var have []bool
	var missing []cid.Cid
	if kind == "fetch" {
		have = make([]bool, n)
		for i, c := range opts["have"] {
			have[i] = c == '1'
		}
		if opts["known"] == "no" {
			layout, have = nil, nil
			missing = []cid.Cid{testCID(sc.t, "node")}
		}
	}
	sc.st, err = newSessionState(cfg, sc.root, rng, ch, kind == "fetch", layout, have, missing, opts["name"], sc.now)
	if err != nil {
		sc.fatalf("%v", err)
	}
}

func (c ChokerConfig) mustDefaults() ChokerConfig {
	c, err := c.withDefaults()
	if err != nil {
		panic(err)
	}
	return c
}

func (sc *scenario) step(ev any) {
	sc.st.step(ev)
	for _, e := range sc.st.ready() {
		if e.kind != effNotify {
			sc.pending = append(sc.pending, sc.format(e))
		}
	}
}

func (sc *scenario) ref(words []string) Ref {
	if len(words) >= 2 && words[0] == "leaf" {
		return LeafRef(sc.atoi(sc.subst(words[1])))
	}
	if len(words) >= 1 && words[0] == "node" {
		return NodeRef(testCID(sc.t, "node"))
	}
	sc.fatalf("want 'leaf I' or 'node', got %q", words)
	return Ref{}
}

// subst replaces a bound $variable by its value.
func (sc *scenario) subst(w string) string {
	if strings.HasPrefix(w, "$") {
		v, ok := sc.vars[w]
		if !ok {
			sc.fatalf("%s is not bound", w)
		}
		return v
	}
	return w
}

func (sc *scenario) message(words []string) Message {
	switch words[0] {
	case "bitfield":
		return &BitfieldMsg{Have: bitPattern(words[1])}
	case "have":
		return &Have{Index: sc.atoi(sc.subst(words[1]))}
	case "interested":
		return &Interested{}
	case "not-interested":
		return &NotInterested{}
	case "choke":
		return &Choke{}
	case "unchoke":
		return &Unchoke{}
	case "request":
		return &Request{Ref: sc.ref(words[1:])}
	case "cancel":
		return &Cancel{Ref: sc.ref(words[1:])}
	case "reject":
		reason := words[len(words)-1]
		for r, name := range rejectReasonNames {
			if name == reason {
				return &Reject{Ref: sc.ref(words[1:]), Reason: r}
			}
		}
		sc.fatalf("reject reason %q", reason)
	case "peers":
		m := &Peers{}
		for _, w := range words[1:] {
			m.Peers = append(m.Peers, peer.AddrInfo{ID: peer.ID(w)})
		}
		return m
	}
	sc.fatalf("unknown message %q", words)
	return nil
}

func (sc *scenario) run(words []string) {
	if words[0] != "expect" {
		sc.pending = nil
	}
	switch cmd := words[0]; {
	case cmd == "fetch" || cmd == "seed":
		sc.setup(cmd, options(words[1:]))
	case cmd == "start":
		sc.step(evStart{now: sc.now})
	case cmd == "join":
		o := options(words[2:])
		leaves := 0
		if v, ok := o["leaves"]; ok {
			leaves = sc.atoi(v)
		}
		sc.step(evPeerJoined{id: peer.ID(words[1]), leaves: leaves, name: o["name"], now: sc.now})
	case cmd == "leave":
		sc.step(evPeerLeft{id: peer.ID(words[1]), now: sc.now})
	case len(words) >= 3 && words[1] == "sends":
		sc.step(evMessage{id: peer.ID(words[0]), msg: sc.message(words[2:]), now: sc.now})
	case len(words) >= 3 && words[1] == "delivers":
		sc.step(evBlock{id: peer.ID(words[0]), ref: sc.ref(words[2:]), n: leafBytes, now: sc.now})
	case cmd == "stored":
		id, ref := peer.ID(words[1]), sc.ref(words[2:])
		if ref.IsLeaf() {
			sc.step(evLeafStored{id: id, index: ref.Index, now: sc.now})
		} else {
			sc.step(evNodeStored{id: id, c: ref.CID, layout: sc.layout, have: make([]bool, len(sc.layout.Leaves)), now: sc.now})
		}
	case cmd == "bad":
		sc.step(evBadData{id: peer.ID(words[1]), err: fmt.Errorf("%w: leaf does not match", ErrBadData)})
	case cmd == "store" && len(words) > 2 && words[1] == "fails":
		sc.step(evStoreFailed{err: errors.New(strings.Join(words[2:], " ")), now: sc.now})
	case cmd == "sent":
		index := 0
		if len(words) >= 5 && words[3] == "leaf" {
			index = sc.atoi(sc.subst(words[4]))
		}
		sc.step(evSent{id: peer.ID(words[1]), index: index, n: sc.atoi(words[2]), now: sc.now})
	case cmd == "tick":
		d, times := sc.dur(words[1]), 1
		if len(words) > 2 {
			times = sc.atoi(strings.TrimPrefix(words[2], "x"))
		}
		for range times {
			sc.now = sc.now.Add(d)
			sc.step(evTick{now: sc.now})
		}
	case cmd == "advance":
		sc.now = sc.now.Add(sc.dur(words[1]))
	case cmd == "candidate":
		sc.step(evCandidate{info: peer.AddrInfo{ID: peer.ID(words[1])}})
	case cmd == "dialed":
		sc.step(evDialDone{id: peer.ID(words[1])})
	case cmd == "finished":
		var err error
		switch rest := strings.Join(words[1:], " "); rest {
		case "ok":
		case "exists":
			err = fmt.Errorf("finish: %w", chunker.ErrDestExists)
		default:
			err = errors.New(rest)
		}
		sc.step(evFinished{info: chunker.RootInfo{Cid: sc.root}, err: err, now: sc.now})
	case cmd == "broken":
		sc.step(evSourceBroken{err: errors.New(strings.Join(words[1:], " "))})
	case cmd == "cancel":
		sc.step(evStop{err: ErrCancelled, abort: true, keep: len(words) > 1 && words[1] == "keep"})
	case cmd == "stop":
		sc.step(evStop{err: ErrStopped})
	case cmd == "fail":
		sc.step(evStop{err: errors.New(strings.Join(words[1:], " ")), abort: true, fail: true})
	case cmd == "expect":
		sc.expect(words[1:])
	default:
		sc.fatalf("unknown command %q", strings.Join(words, " "))
	}
}

func (sc *scenario) expect(words []string) {
	switch words[0] {
	case "state":
		if got, want := sc.st.stateName(), strings.Join(words[1:], " "); got != want {
			sc.fatalf("state %q, want %q", got, want)
		}
		return
	case "reason":
		if got, want := sc.st.reason, strings.Join(words[1:], " "); got != want {
			sc.fatalf("reason %q, want %q", got, want)
		}
		return
	case "name":
		if got, want := sc.st.name, strings.Join(words[1:], " "); got != want {
			sc.fatalf("name %q, want %q", got, want)
		}
		return
	case "no":
		for _, p := range sc.pending {
			if vars, ok := match(words[1:], strings.Fields(p), sc.vars); ok && vars != nil {
				sc.fatalf("unexpected %q among:\n\t%s", p, strings.Join(sc.pending, "\n\t"))
			}
		}
		return
	}
	for k, p := range sc.pending {
		if vars, ok := match(words, strings.Fields(p), sc.vars); ok {
			sc.vars = vars
			sc.pending = append(sc.pending[:k:k], sc.pending[k+1:]...)
			return
		}
	}
	sc.fatalf("no effect matches %q; effects:\n\t%s", strings.Join(words, " "), strings.Join(sc.pending, "\n\t"))
}

// match matches a pattern against an effect's words; it returns the
// variables bound (a copy) when they match.
func match(pat, got []string, vars map[string]string) (map[string]string, bool) {
	out := make(map[string]string, len(vars))
	for k, v := range vars {
		out[k] = v
	}
	for i, p := range pat {
		if p == "..." {
			return out, true
		}
		if i >= len(got) {
			return nil, false
		}
		switch {
		case p == "*":
		case strings.HasPrefix(p, "$"):
			if v, ok := out[p]; ok {
				if v != got[i] {
					return nil, false
				}
			} else {
				out[p] = got[i]
			}
		case p != got[i]:
			return nil, false
		}
	}
	if len(pat) != len(got) {
		return nil, false
	}
	return out, true
}

func refString(r Ref) string {
	if r.IsLeaf() {
		return fmt.Sprintf("leaf %d", r.Index)
	}
	return "node"
}

func msgString(m Message) string {
	switch m := m.(type) {
	case *BitfieldMsg:
		return "bitfield " + bitString(m.Have)
	case *Have:
		return fmt.Sprintf("have %d", m.Index)
	case *Request:
		return "request " + refString(m.Ref)
	case *Cancel:
		return "cancel " + refString(m.Ref)
	case *Reject:
		return "reject " + refString(m.Ref) + " " + m.Reason.String()
	}
	return m.Type().String()
}

func (sc *scenario) format(e effect) string {
	p := string(e.peer)
	switch e.kind {
	case effSend:
		return "send " + p + " " + msgString(e.msg)
	case effServe:
		return "serve " + p + " " + refString(e.ref)
	case effCancelServe:
		return "cancel-serve " + p + " " + refString(e.ref)
	case effClearServe:
		return "clear-serve " + p
	case effStore:
		return "store " + p + " " + refString(e.ref)
	case effDrop:
		return "drop " + p
	case effClose:
		return "close " + p
	case effBan:
		return "ban " + p
	case effDial:
		return "dial " + string(e.info.ID)
	case effPex:
		out := "pex " + p
		for _, id := range e.peers {
			out += " " + string(id)
		}
		return out
	case effFind:
		return "find"
	case effProvide:
		return "provide"
	case effSetDest:
		if e.name == "" {
			return "set-dest original"
		}
		return "set-dest " + e.name
	case effFinish:
		return "finish"
	case effAbort:
		if e.keep {
			return "abort keep"
		}
		return "abort"
	case effMarkBroken:
		return "mark-broken"
	case effDone:
		return "done"
	case effEnd:
		if e.err == nil {
			return "end"
		}
		return "end " + e.err.Error()
	}
	return fmt.Sprintf("effect(%d)", e.kind)
}
