package logdedup

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newLogger(t *testing.T) (*slog.Logger, *Handler, *fakeClock, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	inner := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}})
	h := New(inner, Options{Now: clk.Now})
	return slog.New(h), h, clk, &buf
}

func lines(buf *bytes.Buffer) []string {
	s := strings.TrimSpace(buf.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestDedup(t *testing.T) {
	type step struct {
		advance time.Duration
		level   slog.Level
		msg     string
		args    []any
		flush   bool
	}
	warn := func(msg string, args ...any) step { return step{level: slog.LevelWarn, msg: msg, args: args} }
	after := func(d time.Duration, s step) step { s.advance = d; return s }
	cases := []struct {
		name  string
		steps []step
		want  []string // substrings, one per line written, in order
	}{
		{"first time passes", []step{warn("cannot serve block", "root", "A", "peer", "p1")},
			[]string{`msg="cannot serve block" root=A peer=p1`}},
		{"repeats within the window are swallowed", []step{
			warn("cannot serve block", "root", "A", "peer", "p1"),
			warn("cannot serve block", "root", "A", "peer", "p2"),
			after(59*time.Second, warn("cannot serve block", "root", "A", "peer", "p3")),
		}, []string{"peer=p1"}},
		{"summary once the window passed", []step{
			warn("cannot serve block", "root", "A"),
			warn("cannot serve block", "root", "A"),
			warn("cannot serve block", "root", "A"),
			after(time.Minute, warn("cannot serve block", "root", "A")),
			after(time.Second, warn("cannot serve block", "root", "A")),
		}, []string{`msg="cannot serve block" root=A`, `msg="cannot serve block (repeated 3 times in the last minute)" root=A repeated=3`}},
		{"a lone repeat after the window is plain", []step{
			warn("x", "root", "A"),
			after(2*time.Minute, warn("x", "root", "A")),
		}, []string{`msg=x root=A`, `msg=x root=A`}},
		{"other keys are other causes", []step{
			warn("cannot serve block", "root", "A"),
			warn("cannot serve block", "root", "B"),
			warn("cannot serve block", "root", "A"),
			warn("cannot serve block", "path", "/x"),
		}, []string{"root=A", "root=B", "path=/x"}},
		{"info and debug pass untouched", []step{
			{level: slog.LevelInfo, msg: "hello"},
			{level: slog.LevelInfo, msg: "hello"},
			{level: slog.LevelDebug, msg: "dbg"},
		}, []string{"msg=hello", "msg=hello", "msg=dbg"}},
		{"errors are deduplicated too", []step{
			{level: slog.LevelError, msg: "boom"},
			{level: slog.LevelError, msg: "boom"},
		}, []string{"level=ERROR msg=boom"}},
		{"flush writes pending counts", []step{
			warn("x", "cid", "C"),
			warn("x", "cid", "C"),
			warn("x", "cid", "C"),
			{flush: true},
			{flush: true},
		}, []string{"msg=x cid=C", `msg="x (repeated 2 times in the last minute)" cid=C repeated=2`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			log, h, clk, buf := newLogger(t)
			for _, s := range c.steps {
				clk.Advance(s.advance)
				if s.flush {
					h.Flush(context.Background())
					continue
				}
				log.Log(context.Background(), s.level, s.msg, s.args...)
			}
			got := lines(buf)
			if len(got) != len(c.want) {
				t.Fatalf("%d lines; want %d:\n%s", len(got), len(c.want), buf)
			}
			for i, w := range c.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("line %d = %q; want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// A flood of one cause over ten minutes gives one line a minute at most,
// and WithAttrs keys (a logger per root) count toward the cause.
func TestFloodIsBounded(t *testing.T) {
	log, _, clk, buf := newLogger(t)
	sub := log.With("subsystem", "swarm", "root", "R")
	for i := 0; i < 10*60*100; i++ { // 100 a second for ten minutes
		sub.Warn("cannot serve block", "ref", i, "err", "referenced file changed since it was shared")
		clk.Advance(10 * time.Millisecond)
	}
	got := lines(buf)
	if len(got) > 11 {
		t.Fatalf("%d lines for a ten-minute flood; want at most 11", len(got))
	}
	if !strings.Contains(got[len(got)-1], "repeated") || !strings.Contains(got[len(got)-1], "root=R") {
		t.Errorf("last line %q; want a summary naming the root", got[len(got)-1])
	}
	other := log.With("root", "S")
	other.Warn("cannot serve block")
	if l := lines(buf); !strings.Contains(l[len(l)-1], "root=S") {
		t.Errorf("another root's first warning was swallowed")
	}
}

func TestCausesAreBounded(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Unix(0, 0)}
	h := New(slog.NewTextHandler(&buf, nil), Options{Now: clk.Now, MaxCauses: 4})
	log := slog.New(h)
	for i := 0; i < 100; i++ {
		log.Warn("w", "root", i)
		log.Warn("w", "root", i)
	}
	if n := len(h.st.causes); n > 4 {
		t.Fatalf("%d causes remembered; want at most 4", n)
	}
	// Each evicted cause wrote its count: 100 first lines + 96 summaries.
	if n := len(lines(&buf)); n != 196 {
		t.Errorf("%d lines; want 196", n)
	}
}

func TestConcurrentUse(t *testing.T) {
	log, h, _, _ := newLogger(t)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				log.Warn("w", "root", i%3)
			}
		}()
	}
	wg.Wait()
	h.Flush(context.Background())
}
