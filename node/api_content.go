package node

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// catErrorTrailer carries an error that happens after cat started sending
// bytes (a block that fails verification mid-file): the status is already
// sent, so the client learns of it from this trailer.
const catErrorTrailer = "X-Myco-Error"

func (s *APIServer) share(r *http.Request, req ShareRequest) (any, error) {
	return s.node.Share(r.Context(), req)
}

// ls lists the folder ?cid= names, or the kept roots without it.
func (s *APIServer) ls(r *http.Request) (any, error) {
	if c := r.URL.Query().Get("cid"); c != "" {
		return s.node.ListDir(r.Context(), c)
	}
	return s.node.Roots()
}

func (s *APIServer) rm(r *http.Request, req CIDRequest) (any, error) {
	return s.node.Remove(r.Context(), req.CID)
}

// CIDRequest is a request body naming one CID.
type CIDRequest struct {
	CID string `json:"cid"`
}

// cat answers GET /api/v0/cat?cid=C with the file's bytes. Errors found
// before the first byte get a JSON error and a status; later ones end the
// body early and are reported in the X-Myco-Error trailer.
func (s *APIServer) cat(w http.ResponseWriter, r *http.Request) {
	s.stream(w, r, "/api/v0/cat", "cat", "application/octet-stream", s.node.Cat)
}

// stream answers a GET ?cid=C[&timeout=D] whose answer produce streams to
// w, as cat does.
func (s *APIServer) stream(w http.ResponseWriter, r *http.Request, path, what, contentType string,
	produce func(ctx context.Context, root string, timeout time.Duration, w io.Writer) (int64, error)) {
	c := r.URL.Query().Get("cid")
	var timeout time.Duration
	if v := r.URL.Query().Get("timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			s.fail(w, path, badRequest(fmt.Errorf("%s: timeout %q: want a positive duration", what, v)))
			return
		}
		timeout = d
	}
	w.Header().Set("Trailer", catErrorTrailer)
	lw := &lazyWriter{w: w, contentType: contentType}
	n, err := produce(r.Context(), c, timeout, lw)
	if err != nil {
		if !lw.started {
			w.Header().Del("Trailer")
			s.fail(w, path, err)
			return
		}
		s.log.Warn(what+" failed mid-stream", "cid", c, "bytes", n, "err", err)
		w.Header().Set(catErrorTrailer, err.Error())
		return
	}
	if !lw.started {
		lw.start()
	}
	s.requests.WithLabelValues(path, "200").Inc()
}

// lazyWriter sends the 200 status and headers with the first byte, so a
// handler can still answer an error until then.
type lazyWriter struct {
	w           http.ResponseWriter
	contentType string
	started     bool
}

func (l *lazyWriter) start() {
	l.started = true
	l.w.Header().Set("Content-Type", l.contentType)
	l.w.WriteHeader(http.StatusOK)
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if !l.started {
		l.start()
	}
	return l.w.Write(p)
}
