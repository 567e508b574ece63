// Package logdedup keeps a daemon's log readable when one cause repeats: a
// slog.Handler wrapper that passes a warning or error through the first
// time, then swallows records with the same message (and the same values
// of a few identifying keys, such as "root" or "path") and logs at most
// once per window, "MSG (repeated N times in the last minute)".
//
// It owns no goroutine: a summary is written when the next record of the
// same cause arrives after the window, or by Flush (called at shutdown).
// Time comes from an injected clock, so its tests never sleep. Records
// below the threshold level (Info, Debug by default) are never touched.
package logdedup

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options tune a Handler. Zero fields take their defaults.
type Options struct {
	// Keys are the attributes whose values tell causes apart (default
	// "root", "cid", "path"); every other attribute (a peer, an offset, an
	// error text) may vary within one cause.
	Keys []string
	// Window is how often a repeated cause may be logged (default 1 min).
	Window time.Duration
	// Level is the lowest level deduplicated (the zero value, Info, is
	// taken as the default, slog.LevelWarn).
	Level slog.Level
	// Now is the clock (default time.Now).
	Now func() time.Time
	// MaxCauses bounds the causes remembered (default 1024); past it the
	// oldest are forgotten (and their pending counts written out).
	MaxCauses int
}

// Handler is the deduplicating slog.Handler.
type Handler struct {
	next   slog.Handler
	st     *state
	preset []string // values of identifying keys given by WithAttrs, as k=v
}

// state is shared by a Handler and the handlers derived from it, so
// deduplication spans the whole daemon.
type state struct {
	opts   Options
	mu     sync.Mutex
	causes map[string]*cause
}

// cause is one repeated message.
type cause struct {
	since      time.Time // start of the current window
	suppressed int       // records swallowed in this window
	last       slog.Record
	next       slog.Handler
}

// New wraps next.
func New(next slog.Handler, opts Options) *Handler {
	if opts.Keys == nil {
		opts.Keys = []string{"root", "cid", "path"}
	}
	if opts.Window <= 0 {
		opts.Window = time.Minute
	}
	if opts.Level == 0 {
		opts.Level = slog.LevelWarn
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxCauses <= 0 {
		opts.MaxCauses = 1024
	}
	return &Handler{next: next, st: &state{opts: opts, causes: map[string]*cause{}}}
}

// Enabled reports whether the wrapped handler logs at level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// WithAttrs returns a handler whose records carry attrs; identifying keys
// among them count toward the cause.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	preset := slices.Clone(h.preset)
	for _, a := range attrs {
		if slices.Contains(h.st.opts.Keys, a.Key) {
			preset = append(preset, a.Key+"="+a.Value.String())
		}
	}
	return &Handler{next: h.next.WithAttrs(attrs), st: h.st, preset: preset}
}

// WithGroup returns a handler that nests later attributes in a group.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), st: h.st, preset: h.preset}
}

// Handle logs r, or counts it when its cause was logged within the window.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	st := h.st
	if r.Level < st.opts.Level {
		return h.next.Handle(ctx, r)
	}
	key := h.key(r)
	now := st.opts.Now()
	st.mu.Lock()
	c := st.causes[key]
	if c == nil {
		flush := st.makeRoomLocked()
		st.causes[key] = &cause{since: now, next: h.next}
		st.mu.Unlock()
		st.write(ctx, flush)
		return h.next.Handle(ctx, r)
	}
	if now.Sub(c.since) < st.opts.Window {
		c.suppressed++
		c.last, c.next = r.Clone(), h.next
		st.mu.Unlock()
		return nil
	}
	n := c.suppressed
	c.since, c.suppressed, c.last = now, 0, slog.Record{}
	st.mu.Unlock()
	if n == 0 {
		return h.next.Handle(ctx, r)
	}
	return h.next.Handle(ctx, st.summary(r, n+1))
}

// Flush writes the summary of every cause with swallowed records, and
// starts a new window for each. A daemon calls it as it stops.
func (h *Handler) Flush(ctx context.Context) {
	st := h.st
	now := st.opts.Now()
	st.mu.Lock()
	var out []pending
	for _, c := range st.causes {
		if c.suppressed > 0 {
			out = append(out, pending{c.next, st.summary(c.last, c.suppressed)})
			c.since, c.suppressed, c.last = now, 0, slog.Record{}
		}
	}
	st.mu.Unlock()
	slices.SortFunc(out, func(a, b pending) int { return a.r.Time.Compare(b.r.Time) })
	st.write(ctx, out)
}

type pending struct {
	next slog.Handler
	r    slog.Record
}

func (st *state) write(ctx context.Context, ps []pending) {
	for _, p := range ps {
		p.next.Handle(ctx, p.r)
	}
}

// makeRoomLocked forgets the oldest cause when the table is full, and
// returns its summary if it had swallowed records.
func (st *state) makeRoomLocked() []pending {
	if len(st.causes) < st.opts.MaxCauses {
		return nil
	}
	var oldest string
	var at time.Time
	for k, c := range st.causes {
		if oldest == "" || c.since.Before(at) {
			oldest, at = k, c.since
		}
	}
	c := st.causes[oldest]
	delete(st.causes, oldest)
	if c.suppressed > 0 {
		return []pending{{c.next, st.summary(c.last, c.suppressed)}}
	}
	return nil
}

// summary is r restated as "MSG (repeated N times in the last minute)".
func (st *state) summary(r slog.Record, n int) slog.Record {
	span := "minute"
	if st.opts.Window != time.Minute {
		span = st.opts.Window.String()
	}
	s := slog.NewRecord(r.Time, r.Level, fmt.Sprintf("%s (repeated %d times in the last %s)", r.Message, n, span), r.PC)
	r.Attrs(func(a slog.Attr) bool { s.AddAttrs(a); return true })
	s.AddAttrs(slog.Int("repeated", n))
	return s
}

// key identifies r's cause: its level, message and identifying attributes.
func (h *Handler) key(r slog.Record) string {
	var b strings.Builder
	b.WriteString(r.Level.String())
	b.WriteByte('\x00')
	b.WriteString(r.Message)
	for _, p := range h.preset {
		b.WriteByte('\x00')
		b.WriteString(p)
	}
	r.Attrs(func(a slog.Attr) bool {
		if slices.Contains(h.st.opts.Keys, a.Key) {
			b.WriteByte('\x00')
			b.WriteString(a.Key + "=" + a.Value.String())
		}
		return true
	})
	return b.String()
}
