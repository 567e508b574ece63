package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progressBar draws a one-line progress bar on a terminal: bytes, rate,
// peers and time left. It redraws at most every redrawEvery.
type progressBar struct {
	w       io.Writer
	start   time.Time
	last    time.Time
	drawn   bool
	label   string
	enabled bool
	// state is the fetch's lifecycle state, shown unless "downloading".
	state string
}

const redrawEvery = 100 * time.Millisecond

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// newProgressBar returns a bar on w that draws only when enabled (stderr is
// a terminal, or --progress forced it).
func newProgressBar(w io.Writer, label string, enabled bool) *progressBar {
	now := time.Now()
	return &progressBar{w: w, start: now, label: label, enabled: enabled}
}

// update redraws the bar for done of total bytes at rate bytes/s with
// peers peers; final forces a redraw.
func (b *progressBar) update(done, total int64, rate float64, peers int, final bool) {
	if !b.enabled {
		return
	}
	now := time.Now()
	if !final && b.drawn && now.Sub(b.last) < redrawEvery {
		return
	}
	b.last, b.drawn = now, true
	fmt.Fprintf(b.w, "\r%s\x1b[K", b.line(done, total, rate, peers))
	if final {
		fmt.Fprintln(b.w)
	}
}

// line renders the bar's text.
func (b *progressBar) line(done, total int64, rate float64, peers int) string {
	const width = 30
	frac := 0.0
	if total > 0 {
		frac = min(1, float64(done)/float64(total))
	}
	fill := int(frac * width)
	bar := strings.Repeat("=", fill)
	if fill < width {
		bar += ">" + strings.Repeat(" ", width-fill-1)
	}
	eta := "--"
	if rate > 0 && total > done {
		eta = (time.Duration(float64(total-done)/rate) * time.Second).Round(time.Second).String()
	} else if total > 0 && done >= total {
		eta = "0s"
	}
	size := "?"
	if total >= 0 {
		size = humanBytes(float64(total))
	}
	line := fmt.Sprintf("%s [%s] %3.0f%% %s/%s %s/s %d peer(s) ETA %s",
		b.label, bar, frac*100, humanBytes(float64(done)), size, humanBytes(rate), peers, eta)
	if b.state != "" && b.state != "downloading" {
		line += " (" + b.state + ")"
	}
	return line
}

// humanBytes formats a byte count with a binary unit.
func humanBytes(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f %s", v, units[i])
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}
