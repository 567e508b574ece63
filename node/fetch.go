package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
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
	// Dest is the absolute path to write the file or directory to; it
	// must not exist.
	Dest string `json:"dest"`
	// Timeout is how long the fetch may go without any peer holding the
	// root before it fails ("" is the swarm's default, 60 s).
	Timeout string `json:"timeout,omitempty"`
}

// FetchEvent is one line of a fetch's progress stream.
type FetchEvent struct {
	Type     string  `json:"type"` // "progress", "done" or "error"
	CID      string  `json:"cid,omitempty"`
	Have     int     `json:"have,omitempty"`
	Leaves   int     `json:"leaves,omitempty"`
	Bytes    int64   `json:"bytes"`
	Size     int64   `json:"size,omitempty"`
	Peers    int     `json:"peers"`
	DownRate float64 `json:"down_rate,omitempty"`
	Seconds  float64 `json:"seconds,omitempty"`
	Path     string  `json:"path,omitempty"`
	Error    string  `json:"error,omitempty"`
}

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

// Fetch downloads a root (by CID or name) to an absolute path, reporting
// progress to emit, and keeps seeding it afterwards. A root already kept
// locally is exported instead.
func (n *Node) Fetch(ctx context.Context, req FetchRequest, emit func(FetchEvent) error) error {
	root, err := n.resolveRoot(req.Root)
	if err != nil {
		return err
	}
	if !filepath.IsAbs(req.Dest) {
		return badRequest(fmt.Errorf("fetch: destination %q must be an absolute path", req.Dest))
	}
	if _, err := os.Lstat(req.Dest); err == nil {
		return badRequest(fmt.Errorf("fetch: %s already exists", req.Dest))
	}
	var timeout time.Duration
	if req.Timeout != "" {
		if timeout, err = time.ParseDuration(req.Timeout); err != nil || timeout <= 0 {
			return badRequest(fmt.Errorf("fetch: timeout %q: want a positive duration", req.Timeout))
		}
	}
	start := time.Now()
	if info, err := n.store.Root(root); err == nil {
		if err := n.store.Export(ctx, root, req.Dest); err != nil {
			return contentError(err)
		}
		return emit(FetchEvent{Type: "done", CID: root.String(), Bytes: int64(info.Size), Seconds: time.Since(start).Seconds(), Path: req.Dest})
	}
	dl, err := n.swarm.Fetch(ctx, root, req.Dest, swarm.FetchOptions{Timeout: timeout})
	if err != nil {
		return fetchError(err)
	}
	info, peers, err := n.follow(ctx, dl, emit)
	if err != nil {
		return err
	}
	return emit(FetchEvent{Type: "done", CID: root.String(), Bytes: int64(info.Size), Peers: peers,
		Seconds: time.Since(start).Seconds(), Path: req.Dest})
}

// follow reports a download's progress to emit until it ends, and returns
// its result and the most peers it had at once. If the caller goes away
// (ctx ends), the download stops; its leaves stay for a later fetch.
func (n *Node) follow(ctx context.Context, dl *swarm.Download, emit func(FetchEvent) error) (chunker.RootInfo, int, error) {
	peers := 0
	report := func() error {
		p := dl.Progress()
		peers = max(peers, p.Peers)
		return emit(FetchEvent{Type: "progress", CID: p.Root.String(), Have: p.Have, Leaves: p.Leaves,
			Bytes: p.Bytes, Size: p.Size, Peers: p.Peers, DownRate: p.DownRate})
	}
	for {
		select {
		case <-dl.Updates():
			if err := report(); err != nil {
				dl.Stop()
				return chunker.RootInfo{}, peers, err
			}
		case <-dl.Done():
			info, err := dl.Result()
			if err != nil {
				return info, peers, fetchError(err)
			}
			return info, peers, nil
		case <-ctx.Done():
			dl.Stop()
			return chunker.RootInfo{}, peers, ctx.Err()
		}
	}
}

// fetchFor makes sure root is in the store for a reader (cat): kept
// already, downloading, interrupted earlier, or fetched now into the repo.
func (n *Node) fetchFor(ctx context.Context, root cid.Cid, timeout time.Duration) error {
	if _, err := n.store.Root(root); err == nil {
		return nil
	}
	dl := n.swarm.Download(root)
	if dl == nil {
		dest := n.repo.File(filepath.Join(downloadsDir, root.String()))
		if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
			return err
		}
		if _, err := os.Lstat(dest); err == nil {
			dest = "" // an interrupted fetch: resume it
		}
		var err error
		if dl, err = n.swarm.Fetch(ctx, root, dest, swarm.FetchOptions{Timeout: timeout}); err != nil {
			return fetchError(err)
		}
	}
	_, _, err := n.follow(ctx, dl, func(FetchEvent) error { return nil })
	return err
}

// fetchError gives swarm errors their HTTP status.
func fetchError(err error) error {
	switch {
	case errors.Is(err, swarm.ErrNoProviders):
		return &httpError{http.StatusNotFound, err}
	case errors.Is(err, chunker.ErrDestExists), errors.Is(err, chunker.ErrAlreadyKept):
		return badRequest(err)
	}
	return contentError(err)
}

// SessionJSON is `myco stat CID --json`.
type SessionJSON struct {
	CID         string  `json:"cid"`
	Have        int     `json:"have"`
	Leaves      int     `json:"leaves"`
	Bytes       int64   `json:"bytes"`
	Size        int64   `json:"size"`
	Peers       int     `json:"peers"`
	Uploaded    int64   `json:"uploaded"`
	Downloaded  int64   `json:"downloaded"`
	UpRate      float64 `json:"up_rate"`
	DownRate    float64 `json:"down_rate"`
	Downloading bool    `json:"downloading"`
	Kept        bool    `json:"kept"`
}

// Stat reports a root's session, or just whether it is kept.
func (n *Node) Stat(root string) (SessionJSON, error) {
	c, err := n.resolveRoot(root)
	if err != nil {
		return SessionJSON{}, err
	}
	info, kerr := n.store.Root(c)
	st, ok := n.swarm.SessionStats(c)
	if !ok && kerr != nil {
		return SessionJSON{}, &httpError{http.StatusNotFound, fmt.Errorf("%s is neither kept nor being fetched", c)}
	}
	out := SessionJSON{CID: c.String(), Kept: kerr == nil}
	if ok {
		out.Have, out.Leaves, out.Bytes, out.Size, out.Peers = st.Have, st.Leaves, st.Bytes, st.Size, st.Peers
		out.Uploaded, out.Downloaded, out.UpRate, out.DownRate, out.Downloading = st.Uploaded, st.Downloaded, st.UpRate, st.DownRate, st.Downloading
	} else {
		out.Bytes, out.Size = int64(info.Size), int64(info.Size)
	}
	return out, nil
}

// LimitsJSON is the swarm's rate limits in bytes per second (0: none).
type LimitsJSON struct {
	MaxUpload   int64 `json:"max_upload"`
	MaxDownload int64 `json:"max_download"`
}

// LimitsRequest changes the swarm's rate limits; an empty field keeps the
// current one.
type LimitsRequest struct {
	MaxUpload   string `json:"max_upload,omitempty"`
	MaxDownload string `json:"max_download,omitempty"`
}

// SetLimits changes the upload and download limits at run time.
func (n *Node) SetLimits(req LimitsRequest) (LimitsJSON, error) {
	if req.MaxUpload != "" {
		r, err := swarm.ParseRate(req.MaxUpload)
		if err != nil {
			return LimitsJSON{}, badRequest(fmt.Errorf("max upload: %w", err))
		}
		n.swarm.SetMaxUpload(r)
	}
	if req.MaxDownload != "" {
		r, err := swarm.ParseRate(req.MaxDownload)
		if err != nil {
			return LimitsJSON{}, badRequest(fmt.Errorf("max download: %w", err))
		}
		n.swarm.SetMaxDownload(r)
	}
	up, down := n.swarm.MaxRates()
	return LimitsJSON{MaxUpload: up, MaxDownload: down}, nil
}

func (s *APIServer) registerSwarm(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v0/fetch", s.fetch)
	s.handle(mux, "GET /api/v0/swarm/stats", func(*http.Request) (any, error) {
		st := s.node.swarm.Stats()
		if st == nil {
			st = []swarm.PeerInfo{}
		}
		return st, nil
	})
	s.handle(mux, "GET /api/v0/stat", func(r *http.Request) (any, error) {
		return s.node.Stat(r.URL.Query().Get("cid"))
	})
	s.handle(mux, "POST /api/v0/swarm/limits", func(r *http.Request) (any, error) {
		var req LimitsRequest
		if err := decodeBody(r, &req); err != nil {
			return nil, err
		}
		return s.node.SetLimits(req)
	})
}

// fetch answers POST /api/v0/fetch with newline-delimited FetchEvents: an
// error before anything was sent gets a JSON error and status; later ones
// are an "error" event.
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
	if err != nil && !started {
		s.fail(w, path, err)
		return
	}
	if err != nil {
		emit(FetchEvent{Type: "error", Error: err.Error()})
		s.log.Warn("fetch failed", "root", req.Root, "err", err)
	}
	s.requests.WithLabelValues(path, "200").Inc()
}
