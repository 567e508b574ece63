package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/myco-p2p/myco/chunker"
	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/swarm"
)

// downloadsDir (inside the repo) receives roots that `cat` had to fetch:
// they have no destination of their own.
const downloadsDir = "downloads"

// FetchRequest is the body of POST /api/v0/fetch.
type FetchRequest struct {
	// Root is a CID or a name (resolved on the ledger).
	Root string `json:"root"`
	// Dest is the absolute path to write the file or directory to. With
	// UseName it is the fallback path (named after the CID or the name
	// asked for), whose last element the name announced by the sharer
	// replaces once known.
	Dest    string `json:"dest"`
	UseName bool   `json:"use_name,omitempty"`
	// Force lets the fetch replace an existing destination.
	Force bool `json:"force,omitempty"`
	// Timeout bounds the whole fetch ("" is no bound: the swarm's own
	// limits apply, 60 s without any provider and IdleLimit without a
	// leaf). When it passes the fetch is cancelled and its partial data
	// removed.
	Timeout string `json:"timeout,omitempty"`
	// IdleLimit is how long the fetch may go with peers but without any
	// leaf arriving before it fails ("" is the swarm's default, 10 min).
	IdleLimit string `json:"idle_limit,omitempty"`
	// Pay is the most the fetch may pay priced peers in all, in base
	// units ("": the config's channels.pay_max; "0": nothing).
	Pay string `json:"pay,omitempty"`
}

// FetchEvent is one line of a fetch's progress stream.
type FetchEvent struct {
	Type     string  `json:"type"` // "progress", "done" or "error"
	CID      string  `json:"cid,omitempty"`
	State    string  `json:"state,omitempty"` // the fetch lifecycle state
	Name     string  `json:"name,omitempty"`
	Have     int     `json:"have,omitempty"`
	Leaves   int     `json:"leaves,omitempty"`
	Bytes    int64   `json:"bytes"`
	Size     int64   `json:"size,omitempty"`
	Peers    int     `json:"peers"`
	DownRate float64 `json:"down_rate,omitempty"`
	Seconds  float64 `json:"seconds,omitempty"`
	// Paid is what the fetch paid priced peers so far, in base units.
	Paid uint64 `json:"paid,omitempty"`
	// Path is, on "done", the path really written (the sharer's name may
	// have replaced the fallback).
	Path  string `json:"path,omitempty"`
	Error string `json:"error,omitempty"`
	// Stopped marks the "error" sent when the daemon stops during the
	// fetch: the fetch is paused, not failed, and resumes at next start.
	Stopped bool `json:"stopped,omitempty"`
}

// Errors of the fetch lifecycle as the API reports them.
var (
	// errStoppedMidFetch is what a fetch stream ends with when the daemon
	// stops under it.
	errStoppedMidFetch = errors.New("daemon stopping: the fetch will resume when it starts again")
	// errFetchTimeout is the cause of a fetch's context when its timeout
	// passed.
	errFetchTimeout = errors.New("fetch timed out")
)

// resolveRoot turns a CID or a name into a CID.
func (n *Node) resolveRoot(s string) (cid.Cid, error) {
	if ledger.CheckName(s) == nil {
		rec, err := n.Resolve(s)
		if err != nil {
			return cid.Undef, err
		}
		return cid.Decode(rec.CID)
	}
	return parseRoot(s)
}

// parseDuration parses an optional positive duration field.
func parseDuration(what, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, badRequest(fmt.Errorf("fetch: %s %q: want a positive duration", what, v))
	}
	return d, nil
}

// running returns root's download if one is under way (not yet ended).
func (n *Node) running(root cid.Cid) *swarm.Download {
	dl := n.swarm.Download(root)
	if dl == nil {
		return nil
	}
	select {
	case <-dl.Done():
		return nil
	default:
		return dl
	}
}

// existsError refuses an existing destination.
func existsError(path string) error {
	return badRequest(fmt.Errorf("fetch: %s already exists (use --force to replace it)", path))
}

// Fetch downloads a root (by CID or name) to an absolute path, reporting
// progress to emit, and keeps seeding it afterwards. A root already kept
// locally is exported instead.
//
// The fetch lives as long as its caller: when ctx ends because the client
// went away (Ctrl-C) or the timeout passed, the fetch is cancelled and its
// partial data removed. When ctx ends because the daemon is stopping, the
// fetch is left to the swarm, which pauses it; it resumes at next start.
func (n *Node) Fetch(ctx context.Context, req FetchRequest, emit func(FetchEvent) error) error {
	rootPart, sub := splitContentPath(req.Root)
	root, err := n.resolveRoot(rootPart)
	if err != nil {
		return err
	}
	if !filepath.IsAbs(req.Dest) {
		return badRequest(fmt.Errorf("fetch: destination %q must be an absolute path", req.Dest))
	}
	timeout, err := parseDuration("timeout", req.Timeout)
	if err != nil {
		return err
	}
	idle, err := parseDuration("idle limit", req.IdleLimit)
	if err != nil {
		return err
	}
	payMax := amountOf(n.cfg.Channels.PayMax)
	if req.Pay != "" {
		if payMax, err = ledger.ParseAmount(req.Pay); err != nil {
			return badRequest(fmt.Errorf("fetch: pay: %w", err))
		}
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, timeout, errFetchTimeout)
		defer cancel()
	}
	if sub != "" { // a file or folder inside the root: fetchpath.go
		return n.fetchPath(ctx, req, rootPart, sub, timeout, emit)
	}
	start := time.Now()
	if info, err := n.store.Root(root); err == nil {
		path, err := n.exportKept(ctx, info, req)
		if err != nil {
			return err
		}
		return emit(FetchEvent{Type: "done", CID: root.String(), State: "done", Name: info.Name, Bytes: int64(info.Size),
			Seconds: time.Since(start).Seconds(), Path: path})
	}
	dl := n.running(root)
	if dl != nil {
		// A fetch of this root is under way (resumed at start, or asked
		// by another client): follow it if it goes where this one asks.
		cur := dl.Dest()
		if cur != req.Dest && !(req.UseName && filepath.Dir(cur) == filepath.Dir(req.Dest)) {
			return &httpError{http.StatusConflict, fmt.Errorf("fetch: %s is already being fetched into %s (follow it with 'myco stat --watch %s', or stop it with 'myco cancel %s')", root, cur, root, root)}
		}
		dl.RaiseBudget(payMax)
	} else {
		if _, err := os.Lstat(req.Dest); err == nil && !req.Force {
			return existsError(req.Dest)
		}
		dl, err = n.swarm.Fetch(ctx, root, req.Dest, swarm.FetchOptions{
			Timeout: timeout, IdleLimit: idle, Force: req.Force, UseName: req.UseName, PayMax: payMax})
		if err != nil {
			return fetchError(root, err)
		}
	}
	var seenDest string
	info, peers, err := n.follow(ctx, dl, true, func(ev FetchEvent) error {
		if d := dl.Dest(); d != "" {
			seenDest = d
		}
		return emit(ev)
	})
	if err != nil {
		return err
	}
	// The path really written: the download's, as last known (the name
	// announced by the sharer may have replaced the fallback).
	path := dl.Dest()
	if path == "" {
		path = seenDest
	}
	if path == "" {
		path = req.Dest
	}
	if err := checkWritten(path, info); err != nil {
		return err
	}
	return emit(FetchEvent{Type: "done", CID: root.String(), State: "done", Name: info.Name, Bytes: int64(info.Size), Peers: peers,
		Seconds: time.Since(start).Seconds(), Path: path, Paid: dl.Progress().Paid})
}

// checkWritten makes sure a finished download is really at path: a
// "done" is never sent for a destination that does not hold the content.
func checkWritten(path string, info chunker.RootInfo) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("fetch %s: finished, but the destination is not there: %w", info.Cid, err)
	}
	if !info.Dir && !st.IsDir() && st.Size() != int64(info.Size) {
		return fmt.Errorf("fetch %s: finished, but %s holds %d bytes, not %d", info.Cid, path, st.Size(), info.Size)
	}
	return nil
}

// exportKept writes a root that is here already to the request's
// destination, through a partial file renamed into place, and returns the
// path written.
func (n *Node) exportKept(ctx context.Context, info chunker.RootInfo, req FetchRequest) (string, error) {
	dest := req.Dest
	if req.UseName && info.Name != "" && chunker.CheckName(info.Name) == nil {
		dest = filepath.Join(filepath.Dir(dest), info.Name)
	}
	if _, err := os.Lstat(dest); err == nil && !req.Force {
		return "", existsError(dest)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return "", fmt.Errorf("fetch: %w", err)
	}
	part := filepath.Join(filepath.Dir(dest), "."+filepath.Base(dest)+".myco-part")
	os.RemoveAll(part) // our own leftover, if any
	if err := n.store.Export(ctx, info.Cid, part); err != nil {
		os.RemoveAll(part)
		return "", contentError(err)
	}
	if err := os.Rename(part, dest); err != nil {
		os.RemoveAll(part)
		return "", fmt.Errorf("fetch: put %s in place: %w", dest, err)
	}
	return dest, nil
}

// follow reports a download's progress to emit until it ends, and returns
// its result and the most peers it had at once.
//
// If ctx ends first: when the daemon is stopping, the download is left to
// the swarm (which pauses it) and errStoppedMidFetch returned; otherwise
// (the client went away, or the fetch's timeout passed) the download is
// cancelled when owned, its partial data removed, and the reason returned.
func (n *Node) follow(ctx context.Context, dl *swarm.Download, owned bool, emit func(FetchEvent) error) (chunker.RootInfo, int, error) {
	peers := 0
	report := func() error {
		p := dl.Progress()
		if peers == 0 && p.Peers > 0 {
			n.peersChanged()
		}
		peers = max(peers, p.Peers)
		return emit(FetchEvent{Type: "progress", CID: p.Root.String(), State: p.State, Name: p.Name, Have: p.Have, Leaves: p.Leaves,
			Bytes: p.Bytes, Size: p.Size, Peers: p.Peers, DownRate: p.DownRate, Paid: p.Paid})
	}
	leave := func(cause error) (chunker.RootInfo, int, error) {
		if daemonStopping(ctx) || n.ctx.Err() != nil {
			return chunker.RootInfo{}, peers, &httpError{http.StatusServiceUnavailable, errStoppedMidFetch}
		}
		if errors.Is(context.Cause(ctx), errFetchTimeout) {
			status, reason := timeoutReason(dl.Progress())
			reason = n.holders.explainNoProviders(dl.Root(), reason)
			if owned {
				n.failDownload(dl, reason)
			}
			return chunker.RootInfo{}, peers, &httpError{status, fmt.Errorf("fetch %s: %w", dl.Root(), reason)}
		}
		n.holders.take(dl.Root())
		if owned {
			n.cancelDownload(dl, false)
		}
		return chunker.RootInfo{}, peers, cause
	}
	if err := report(); err != nil {
		return leave(err)
	}
	for {
		select {
		case <-dl.Updates():
			if err := report(); err != nil {
				return leave(err)
			}
		case <-dl.Done():
			info, err := dl.Result()
			if err != nil {
				return info, peers, fetchError(dl.Root(), n.holders.explainNoProviders(dl.Root(), err))
			}
			n.holders.take(dl.Root())
			return info, peers, nil
		case <-ctx.Done():
			return leave(context.Cause(ctx))
		}
	}
}

// timeoutReason says how far a fetch got before its timeout (without the
// CID: it is also the reason ls shows), and the HTTP status that fits.
func timeoutReason(p swarm.SessionStats) (int, error) {
	if p.Peers == 0 && p.Have == 0 {
		return http.StatusNotFound, fmt.Errorf("%w before the timeout", swarm.ErrNoProviders)
	}
	return http.StatusGatewayTimeout, fmt.Errorf("timed out (%s, %d/%d leaves, %d peer(s)); its partial data was removed",
		orDash(p.State), p.Have, p.Leaves, p.Peers)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// cancelDownload cancels dl; it returns once the fetch is released, so
// its partial data is gone when the caller answers.
func (n *Node) cancelDownload(dl *swarm.Download, keepPartial bool) {
	dl.Cancel(keepPartial)
	n.dropLeftover(dl, keepPartial)
}

// failDownload ends dl as failed with err, its partial data removed: a
// limit of the node's own (the fetch's --timeout) ran out.
func (n *Node) failDownload(dl *swarm.Download, err error) {
	dl.Fail(err)
	n.dropLeftover(dl, false)
}

// dropLeftover makes sure nothing of an ended fetch comes back at the
// next start: if the store still records it as unfinished, that is
// dropped too.
func (n *Node) dropLeftover(dl *swarm.Download, keepPartial bool) {
	if !keepPartial && n.incoming(dl.Root()) {
		if err := n.abortIncoming(dl.Root(), false); err != nil {
			n.log.Warn("forget cancelled fetch", "root", dl.Root(), "err", err)
		}
	}
}

// fetchFor makes sure root is in the store for a reader (cat): kept
// already, downloading, interrupted earlier, or fetched now into the repo.
func (n *Node) fetchFor(ctx context.Context, root cid.Cid, timeout time.Duration) error {
	if _, err := n.store.Root(root); err == nil {
		return nil
	}
	dl := n.running(root)
	owned := false
	if dl == nil {
		dest := n.repo.File(filepath.Join(downloadsDir, root.String()))
		if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
			return err
		}
		if n.incoming(root) {
			dest = "" // an interrupted fetch: resume it
		}
		var err error
		// The downloads directory is the node's own: Force replaces a
		// leftover there.
		if dl, err = n.swarm.Fetch(ctx, root, dest, swarm.FetchOptions{Timeout: timeout, Force: true}); err != nil {
			return fetchError(root, err)
		}
		owned = true
	}
	_, _, err := n.follow(ctx, dl, owned, func(FetchEvent) error { return nil })
	return err
}

// incoming reports whether the store records an unfinished fetch of root.
func (n *Node) incoming(root cid.Cid) bool {
	inc, err := n.store.Incoming()
	if err != nil {
		return false
	}
	for _, in := range inc {
		if in.Root == root {
			return true
		}
	}
	return false
}

// fetchError gives swarm errors their HTTP status and words a person can
// act on.
func fetchError(root cid.Cid, err error) error {
	switch {
	case errors.Is(err, swarm.ErrNoProviders), errors.Is(err, swarm.ErrSourceBroken):
		return &httpError{http.StatusNotFound, err}
	case errors.Is(err, swarm.ErrNoDelivery):
		return &httpError{http.StatusGatewayTimeout, err}
	case errors.Is(err, swarm.ErrClosed):
		return &httpError{http.StatusServiceUnavailable, errStoppedMidFetch}
	case errors.Is(err, swarm.ErrCancelled):
		return &httpError{http.StatusConflict, fmt.Errorf("fetch %s: cancelled (by 'myco cancel' or 'myco rm'); its partial data was removed", root)}
	case errors.Is(err, chunker.ErrDestExists):
		return badRequest(fmt.Errorf("%w (use --force to replace it)", err))
	case errors.Is(err, chunker.ErrAlreadyKept):
		return badRequest(err)
	case errors.Is(err, chunker.ErrNoSpace), errors.Is(err, syscall.ENOSPC):
		return &httpError{http.StatusInsufficientStorage, fmt.Errorf("fetch %s: no space left on the destination's disk; free some and fetch again: %w", root, err)}
	}
	return contentError(err)
}

// SessionJSON is `myco stat CID --json`: a root's state in the fetch
// lifecycle and what was exchanged for it.
type SessionJSON struct {
	CID string `json:"cid"`
	// State is "queued", "finding peers", "downloading", "verifying",
	// "done", "failed", "cancelled", "seeding" or "broken".
	State string `json:"state"`
	// Reason says why a fetch failed or a root is broken.
	Reason      string  `json:"reason,omitempty"`
	Name        string  `json:"name,omitempty"`
	Dest        string  `json:"dest,omitempty"`
	Dir         bool    `json:"dir,omitempty"`
	Have        int     `json:"have"`
	Leaves      int     `json:"leaves"`
	Bytes       int64   `json:"bytes"`
	Size        int64   `json:"size"`
	Percent     float64 `json:"percent"`
	Peers       int     `json:"peers"`
	Uploaded    int64   `json:"uploaded"`
	Downloaded  int64   `json:"downloaded"`
	UpRate      float64 `json:"up_rate"`
	DownRate    float64 `json:"down_rate"`
	Downloading bool    `json:"downloading"`
	Kept        bool    `json:"kept"`
}

// Active reports whether the root is still on its way (a watcher keeps
// watching).
func (s SessionJSON) Active() bool {
	switch s.State {
	case "queued", "finding peers", "downloading", "verifying":
		return true
	}
	return false
}

// percent is done out of total as a percentage (0 when total is unknown).
func percent(done, total int64) float64 {
	if total <= 0 {
		return 0
	}
	return min(100, 100*float64(done)/float64(total))
}

// Stat reports a root's state: kept (seeding or broken), being fetched,
// or failed/cancelled; with bytes exchanged for it since the daemon
// started.
func (n *Node) Stat(root string) (SessionJSON, error) {
	c, err := n.resolveRoot(root)
	if err != nil {
		return SessionJSON{}, err
	}
	info, kerr := n.store.Root(c)
	st, ok := n.swarm.SessionStats(c)
	out := SessionJSON{CID: c.String(), Kept: kerr == nil}
	switch {
	case ok:
		out.State, out.Reason, out.Name, out.Dest = st.State, st.Reason, st.Name, st.Dest
		out.Have, out.Leaves, out.Bytes, out.Size, out.Peers = st.Have, st.Leaves, st.Bytes, st.Size, st.Peers
		out.UpRate, out.DownRate, out.Downloading = st.UpRate, st.DownRate, st.Downloading
	case kerr == nil:
		out.State, out.Bytes, out.Size = "seeding", int64(info.Size), int64(info.Size)
	default:
		if fst, ok := n.swarm.Finished(c); ok {
			out.State, out.Reason, out.Name, out.Dest = fst.State, fst.Reason, fst.Name, fst.Dest
			out.Have, out.Leaves, out.Bytes, out.Size = fst.Have, fst.Leaves, fst.Bytes, fst.Size
		} else if n.incoming(c) {
			out.State, out.Size = "queued", -1
		} else {
			return SessionJSON{}, &httpError{http.StatusNotFound, fmt.Errorf("%s is neither kept nor being fetched", c)}
		}
	}
	if kerr == nil {
		out.Dir = info.Dir
		if out.Name == "" {
			out.Name = info.Name
		}
		if out.State == "" || out.State == "done" {
			out.State = "seeding"
		}
		if info.Broken != "" {
			out.State, out.Reason = "broken", info.Broken
		}
		if !out.Downloading {
			out.Bytes, out.Size = int64(info.Size), int64(info.Size)
		}
	}
	if out.State == "" {
		out.State = "downloading"
	}
	tot := n.swarm.RootTotals(c)
	out.Uploaded, out.Downloaded = tot.Uploaded, tot.Downloaded
	out.Percent = percent(out.Bytes, out.Size)
	return out, nil
}

// LimitsJSON is the swarm's rate limits in bytes per second (0: none).
type LimitsJSON struct {
	MaxUpload   int64 `json:"max_upload"`
	MaxDownload int64 `json:"max_download"`
	// Changed says the request changed a limit; Saved that it was also
	// written to Config (else it lasts until the daemon stops).
	Changed bool   `json:"changed,omitempty"`
	Saved   bool   `json:"saved,omitempty"`
	Config  string `json:"config,omitempty"`
}

// LimitsRequest changes the swarm's rate limits; an empty field keeps the
// current one. Save also writes them to the repo's config file.
type LimitsRequest struct {
	MaxUpload   string `json:"max_upload,omitempty"`
	MaxDownload string `json:"max_download,omitempty"`
	Save        bool   `json:"save,omitempty"`
}

// SetLimits changes the upload and download limits at run time, and in
// the config file when asked to.
func (n *Node) SetLimits(req LimitsRequest) (LimitsJSON, error) {
	var up, down int64 = -1, -1
	var err error
	if req.MaxUpload != "" {
		if up, err = swarm.ParseRate(req.MaxUpload); err != nil {
			return LimitsJSON{}, badRequest(fmt.Errorf("max upload: %w", err))
		}
	}
	if req.MaxDownload != "" {
		if down, err = swarm.ParseRate(req.MaxDownload); err != nil {
			return LimitsJSON{}, badRequest(fmt.Errorf("max download: %w", err))
		}
	}
	out := LimitsJSON{Changed: up >= 0 || down >= 0}
	if req.Save {
		// The file, not the running config: daemon flags stay flags.
		path := n.repo.File(ConfigFile)
		cfg, err := LoadConfig(path)
		if err != nil {
			return LimitsJSON{}, err
		}
		cur, curDown := n.swarm.MaxRates()
		if up < 0 {
			up = cur
		}
		if down < 0 {
			down = curDown
		}
		cfg.Limits.MaxUpload, cfg.Limits.MaxDownload = rateString(up), rateString(down)
		if err := cfg.Save(path); err != nil {
			return LimitsJSON{}, fmt.Errorf("save limits: %w", err)
		}
		out.Saved, out.Config = true, path
	}
	if up >= 0 {
		n.swarm.SetMaxUpload(up)
	}
	if down >= 0 {
		n.swarm.SetMaxDownload(down)
	}
	out.MaxUpload, out.MaxDownload = n.swarm.MaxRates()
	return out, nil
}

// rateString writes a rate for the config file ("" is unlimited).
func rateString(r int64) string {
	if r <= 0 {
		return ""
	}
	return fmt.Sprint(r)
}

// CancelRequest is the body of POST /api/v0/cancel.
type CancelRequest struct {
	CID         string `json:"cid"`
	KeepPartial bool   `json:"keep_partial,omitempty"`
}

// CancelResult says what cancel or rm did.
type CancelResult struct {
	CID string `json:"cid"`
	// Action is "cancelled" (a fetch was stopped), "forgotten" (a failed
	// or cancelled fetch was cleared) or "removed" (a kept root).
	Action      string `json:"action"`
	KeptPartial bool   `json:"kept_partial,omitempty"`
}

// Cancel stops the fetch of root and removes its partial data (unless
// keepPartial). It fails, saying why, when nothing is being fetched.
func (n *Node) Cancel(ctx context.Context, req CancelRequest) (CancelResult, error) {
	c, err := n.resolveRoot(req.CID)
	if err != nil {
		return CancelResult{}, err
	}
	res := CancelResult{CID: c.String(), Action: "cancelled", KeptPartial: req.KeepPartial}
	if dl := n.running(c); dl != nil {
		n.cancelDownload(dl, req.KeepPartial)
		n.unprovide(ctx, c)
		return res, nil
	}
	if n.incoming(c) { // paused, not resumed (yet)
		if err := n.abortIncoming(c, req.KeepPartial); err != nil {
			return CancelResult{}, err
		}
		return res, nil
	}
	if _, err := n.store.Root(c); err == nil {
		return CancelResult{}, &httpError{http.StatusConflict, fmt.Errorf("cancel: %s is not being fetched: it is here already (remove it with 'myco rm %s')", c, c)}
	}
	if st, ok := n.swarm.Finished(c); ok {
		return CancelResult{}, &httpError{http.StatusConflict, fmt.Errorf("cancel: %s is not being fetched: its fetch already ended (%s%s; 'myco rm %s' clears it)", c, st.State, reasonSuffix(st.Reason), c)}
	}
	return CancelResult{}, &httpError{http.StatusNotFound, fmt.Errorf("cancel: %s: %w", c, swarm.ErrNotFetching)}
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return ": " + r
}

// abortIncoming drops a fetch the store records as unfinished but that
// runs nowhere (not resumed yet, or its resume failed).
//
// It goes through Store.DropIncoming, not StartFetch and Abort: reopening
// the fetch would re-hash its partial data only to delete it, and would
// fail for a recorded fetch that cannot be resumed.
func (n *Node) abortIncoming(c cid.Cid, keepPartial bool) error {
	if err := n.store.DropIncoming(c, keepPartial); err != nil {
		return fmt.Errorf("cancel %s: %w", c, err)
	}
	return nil
}

// unprovide stops announcing a root; failures are logged (the DHT
// forgets it at the next reprovide anyway).
func (n *Node) unprovide(ctx context.Context, c cid.Cid) {
	if _, err := n.dht.Unprovide(ctx, c); err != nil && ctx.Err() == nil {
		n.log.Warn("stop providing", "root", c, "err", err)
	}
}

func (s *APIServer) swarmStats(*http.Request) (any, error) {
	st := s.node.swarm.Stats()
	if st == nil {
		st = []swarm.PeerInfo{}
	}
	return st, nil
}

func (s *APIServer) stat(r *http.Request) (any, error) {
	return s.node.Stat(r.URL.Query().Get("cid"))
}

func (s *APIServer) setLimits(_ *http.Request, req LimitsRequest) (any, error) {
	return s.node.SetLimits(req)
}

func (s *APIServer) cancelFetch(r *http.Request, req CancelRequest) (any, error) {
	return s.node.Cancel(r.Context(), req)
}

// fetch answers POST /api/v0/fetch with newline-delimited FetchEvents: an
// error before anything was sent gets a JSON error and status; later ones
// are an "error" event. When the daemon stops during the fetch, the last
// event is an "error" with "stopped": true.
func (s *APIServer) fetch(w http.ResponseWriter, r *http.Request) {
	const path = "/api/v0/fetch"
	var req FetchRequest
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	if err := decodeBody(r, &req); err != nil {
		s.fail(w, path, err)
		return
	}
	started := false
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	emit := func(ev FetchEvent) error {
		if !started {
			started = true
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
		}
		if err := enc.Encode(ev); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	}
	err := s.node.Fetch(r.Context(), req, emit)
	stopped := errors.Is(err, errStoppedMidFetch)
	if err != nil && !started && !stopped {
		s.fail(w, path, err)
		return
	}
	if err != nil {
		emit(FetchEvent{Type: "error", CID: req.Root, Error: err.Error(), Stopped: stopped})
		if !stopped && r.Context().Err() == nil {
			s.log.Warn("fetch failed", "root", req.Root, "err", err)
		}
	}
	s.requests.WithLabelValues(path, "200").Inc()
}
