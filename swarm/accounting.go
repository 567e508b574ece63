package swarm

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// meterBucket is the resolution of a Meter.
const meterBucket = time.Second

// Meter measures a byte rate over a sliding window, given explicit times. It
// keeps one counter per second of the window. It is not safe for concurrent
// use.
type Meter struct {
	window time.Duration
	origin time.Time
	counts []int64
	// slots[k] is the absolute second (since origin) counts[k] belongs to.
	slots []int64
	total int64
}

// NewMeter returns a meter over the given window (rounded up to whole
// seconds, at least one) that starts at now.
func NewMeter(window time.Duration, now time.Time) *Meter {
	n := max(1, int((window+meterBucket-1)/meterBucket))
	m := &Meter{window: time.Duration(n) * meterBucket, origin: now, counts: make([]int64, n), slots: make([]int64, n)}
	for k := range m.slots {
		m.slots[k] = -1
	}
	return m
}

func (m *Meter) second(now time.Time) int64 {
	return int64(now.Sub(m.origin) / meterBucket)
}

// Add records n bytes moved at now. Times before the meter's start count in
// its first second.
func (m *Meter) Add(now time.Time, n int) {
	if n <= 0 {
		return
	}
	s := max(0, m.second(now))
	k := int(s % int64(len(m.counts)))
	if m.slots[k] != s {
		m.slots[k], m.counts[k] = s, 0
	}
	m.counts[k] += int64(n)
	m.total += int64(n)
}

// Total returns every byte recorded.
func (m *Meter) Total() int64 { return m.total }

// Rate returns bytes per second over the window ending at now: the bytes
// of the current second so far and of the whole seconds before it that fit
// in the window, divided by the time they cover. A meter younger than its
// window divides by its age (at least one second), so a new peer's rate is
// not understated.
func (m *Meter) Rate(now time.Time) float64 {
	s := m.second(now)
	var sum int64
	for k, slot := range m.slots {
		if slot >= 0 && slot <= s && slot > s-int64(len(m.counts)) {
			sum += m.counts[k]
		}
	}
	age := now.Sub(m.origin)
	covered := time.Duration(len(m.counts)-1)*meterBucket + age%meterBucket
	span := max(min(age, covered), meterBucket)
	return float64(sum) / span.Seconds()
}

// PeerStats is what we exchanged with one peer. Its JSON form is what
// `myco swarm stats --json` prints per peer (the session adds choked and
// interested).
type PeerStats struct {
	ID         peer.ID `json:"id"`
	Uploaded   int64   `json:"uploaded"`
	Downloaded int64   `json:"downloaded"`
	// UpRate and DownRate are bytes per second over the accounting window.
	UpRate   float64 `json:"up_rate"`
	DownRate float64 `json:"down_rate"`
}

type account struct {
	up, down *Meter
	last     time.Time // the last traffic (or when the account was made)
}

// Accounting keeps per-peer byte counts and rates, and the totals over all
// peers. Unlike the rest of the core it is safe for concurrent use, since
// every stream of a session reports to it and the API reads it.
type Accounting struct {
	window time.Duration
	mu     sync.Mutex
	peers  map[peer.ID]*account
	total  account
	// departed sums the bytes of peers Prune folded away.
	departed PeerStats
}

// DefaultRateWindow is the window rates are measured over when none is given.
const DefaultRateWindow = 20 * time.Second

// NewAccounting returns accounting whose rates cover the given window
// (DefaultRateWindow if zero), starting at now.
func NewAccounting(window time.Duration, now time.Time) *Accounting {
	if window <= 0 {
		window = DefaultRateWindow
	}
	return &Accounting{
		window: window,
		peers:  make(map[peer.ID]*account),
		total:  account{up: NewMeter(window, now), down: NewMeter(window, now)},
	}
}

func (a *Accounting) account(id peer.ID, now time.Time) *account {
	acc, ok := a.peers[id]
	if !ok {
		acc = &account{up: NewMeter(a.window, now), down: NewMeter(a.window, now)}
		a.peers[id] = acc
	}
	if now.After(acc.last) {
		acc.last = now
	}
	return acc
}

// Uploaded records n bytes sent to the peer at now.
func (a *Accounting) Uploaded(id peer.ID, n int, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.account(id, now).up.Add(now, n)
	a.total.up.Add(now, n)
}

// Downloaded records n bytes received from the peer at now.
func (a *Accounting) Downloaded(id peer.ID, n int, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.account(id, now).down.Add(now, n)
	a.total.down.Add(now, n)
}

// Remove forgets a peer; what it exchanged stays in the totals.
func (a *Accounting) Remove(id peer.ID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fold(id)
}

// fold moves a peer's bytes into the departed sums; a.mu is held.
func (a *Accounting) fold(id peer.ID) {
	acc, ok := a.peers[id]
	if !ok {
		return
	}
	a.departed.Uploaded += acc.up.Total()
	a.departed.Downloaded += acc.down.Total()
	delete(a.peers, id)
}

// Prune folds into Departed the peers with no traffic for idle, then the
// least recently active ones beyond maxPeers, so the map stays bounded
// while Totals stay right.
func (a *Accounting) Prune(now time.Time, idle time.Duration, maxPeers int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, acc := range a.peers {
		if now.Sub(acc.last) >= idle {
			a.fold(id)
		}
	}
	if len(a.peers) <= maxPeers {
		return
	}
	ids := make([]peer.ID, 0, len(a.peers))
	for id := range a.peers {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(x, y peer.ID) int {
		if c := a.peers[x].last.Compare(a.peers[y].last); c != 0 {
			return c
		}
		return cmp.Compare(x, y)
	})
	for _, id := range ids[:len(ids)-maxPeers] {
		a.fold(id)
	}
}

// Departed returns the bytes of the peers Remove and Prune folded away
// (ID empty, rates zero).
func (a *Accounting) Departed() PeerStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.departed
}

// Peer returns the stats of one peer.
func (a *Accounting) Peer(id peer.ID, now time.Time) (PeerStats, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	acc, ok := a.peers[id]
	if !ok {
		return PeerStats{ID: id}, false
	}
	return acc.stats(id, now), true
}

// Stats returns the stats of every peer, sorted by peer ID.
func (a *Accounting) Stats(now time.Time) []PeerStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]PeerStats, 0, len(a.peers))
	for id, acc := range a.peers {
		out = append(out, acc.stats(id, now))
	}
	slices.SortFunc(out, func(x, y PeerStats) int { return cmp.Compare(x.ID, y.ID) })
	return out
}

// Totals returns the sums over every peer, past and present (ID empty).
func (a *Accounting) Totals(now time.Time) PeerStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.total.stats("", now)
}

func (acc *account) stats(id peer.ID, now time.Time) PeerStats {
	return PeerStats{
		ID:         id,
		Uploaded:   acc.up.Total(),
		Downloaded: acc.down.Total(),
		UpRate:     acc.up.Rate(now),
		DownRate:   acc.down.Rate(now),
	}
}
