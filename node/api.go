package node

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The API is HTTP with JSON bodies under /api/v0/, plus /metrics. Every
// request, on any path, must carry "Authorization: Bearer <token>" with the
// token the daemon wrote to <repo>/api.token (or, from the web dashboard, a
// session cookie: see api_webui.go); anything else gets 401, like
// bitcoind's cookie authentication. Errors are {"error": "..."} with a 4xx or
// 5xx status.

// maxRequestBody bounds the JSON body of an API request.
const maxRequestBody = 1 << 20

// apiError is the body of every failed request.
type apiError struct {
	Error string `json:"error"`
}

// httpError carries an HTTP status with an error from a handler.
type httpError struct {
	status int
	err    error
}

func (e *httpError) Error() string { return e.err.Error() }
func (e *httpError) Unwrap() error { return e.err }

func badRequest(err error) error { return &httpError{http.StatusBadRequest, err} }

// NewToken returns a fresh random API token.
func NewToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make api token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// APIServer serves a node's HTTP API.
type APIServer struct {
	node     *Node
	token    []byte
	log      *slog.Logger
	srv      *http.Server
	ln       net.Listener
	requests *prometheus.CounterVec
	done     chan error
	// stopping ends when Shutdown begins: every request's context is
	// cancelled with ErrDaemonStopping then, so streaming answers (fetch
	// progress, findprovs, cat, chain wait) end at once instead of holding
	// the shutdown.
	stopping context.Context
	stop     context.CancelFunc
	// web is the dashboard's state (api_webui.go).
	web *webUI
	// daemon is what the API may ask of the daemon running it.
	daemon *daemonControl
}

// ErrDaemonStopping is the cause of a request context cancelled because the
// daemon is shutting down.
var ErrDaemonStopping = errors.New("daemon stopping")

// ListenAPI binds the API address (port 0 picks a free port) and starts
// serving. Addr reports where it listens.
func ListenAPI(n *Node, addr, token string) (*APIServer, error) {
	return listenAPI(n, addr, token, newDaemonControl())
}

// listenAPI is ListenAPI for a daemon, whose controls the API serves.
func listenAPI(n *Node, addr, token string, ctl *daemonControl) (*APIServer, error) {
	if _, err := ParseAPIAddr(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, apiListenError(addr, err)
	}
	s := &APIServer{
		node:  n,
		token: []byte(token),
		log:   n.log.With("subsystem", "api"),
		ln:    ln,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "myco_api_requests_total",
			Help: "API requests by path and status code.",
		}, []string{"path", "code"}),
		done:   make(chan error, 1),
		daemon: ctl,
	}
	s.stopping, s.stop = context.WithCancel(context.Background())
	if err := n.reg.Register(s.requests); err != nil {
		ln.Close()
		return nil, fmt.Errorf("api metrics: %w", err)
	}
	s.startWebUI()
	mux := http.NewServeMux()
	s.routes(mux)
	s.srv = &http.Server{
		Handler:           s.authenticateWeb(s.endAtShutdown(mux)),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return n.ctx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return s, nil
}

// Addr is the host:port the API listens on.
func (s *APIServer) Addr() string { return s.ln.Addr().String() }

// Shutdown stops accepting requests, tells those under way to end (their
// contexts end with ErrDaemonStopping) and waits for them until ctx ends,
// then closes what is left. Requests cut off that way are logged, not an
// error: the daemon still stops cleanly.
func (s *APIServer) Shutdown(ctx context.Context) error {
	s.stop()
	s.closeWebUI()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.log.Warn("requests still running at shutdown were cut off", "err", err)
		s.srv.Close()
	}
	return <-s.done
}

// endAtShutdown gives each request a context that also ends, with cause
// ErrDaemonStopping, when Shutdown begins.
func (s *APIServer) endAtShutdown(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancelCause(r.Context())
		defer cancel(nil)
		unhook := context.AfterFunc(s.stopping, func() { cancel(ErrDaemonStopping) })
		defer unhook()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// daemonStopping reports whether ctx ended because the daemon is stopping.
func daemonStopping(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), ErrDaemonStopping)
}

// authenticate rejects every request without the right bearer token.
func (s *APIServer) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), s.token) != 1 {
			s.requests.WithLabelValues("unauthorized", "401").Inc()
			w.Header().Set("WWW-Authenticate", `Bearer realm="myco"`)
			writeError(w, http.StatusUnauthorized, errors.New("missing or wrong API token (see <repo>/api.token)"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// handle registers a JSON handler: it returns a value to encode or an error.
func (s *APIServer) handle(mux *http.ServeMux, pattern string, h func(*http.Request) (any, error)) {
	path := pattern[strings.IndexByte(pattern, ' ')+1:]
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
		v, err := h(r)
		if err != nil {
			s.fail(w, path, err)
			return
		}
		s.requests.WithLabelValues(path, "200").Inc()
		writeJSON(w, http.StatusOK, v)
	})
}

// fail answers a request with err, with the status it carries (500 when
// it carries none).
func (s *APIServer) fail(w http.ResponseWriter, path string, err error) {
	status := http.StatusInternalServerError
	var he *httpError
	if errors.As(err, &he) {
		status = he.status
	}
	s.requests.WithLabelValues(path, fmt.Sprint(status)).Inc()
	if status >= 500 {
		s.log.Warn("request failed", "path", path, "err", err)
	}
	writeError(w, status, err)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, apiError{Error: err.Error()})
}

// withBody adapts a JSON handler of a request body decoded into a T: a
// body that does not decode is a 400 before h runs.
func withBody[T any](h func(*http.Request, T) (any, error)) func(*http.Request) (any, error) {
	return func(r *http.Request) (any, error) {
		var req T
		if err := decodeBody(r, &req); err != nil {
			return nil, err
		}
		return h(r, req)
	}
}

// bodyCall adapts a node method of a request body to withBody.
func bodyCall[T, R any](f func(T) (R, error)) func(*http.Request, T) (any, error) {
	return func(_ *http.Request, req T) (any, error) { return f(req) }
}

// decodeBody reads a JSON request body into v.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return badRequest(errors.New("empty request body"))
		}
		return badRequest(fmt.Errorf("bad request body: %w", err))
	}
	return nil
}

// notFound answers a path no route matches.
func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, fmt.Errorf("no such API endpoint: %s %s", r.Method, r.URL.Path))
}

func (s *APIServer) id(*http.Request) (any, error) { return s.node.ID(), nil }

func (s *APIServer) peers(*http.Request) (any, error) {
	// Connected peers, then banned ones (marked "banned").
	p := append(s.node.Peers(), s.node.Bans()...)
	if p == nil {
		p = []PeerInfo{}
	}
	return p, nil
}

// ConnectRequest is the body of POST /api/v0/connect.
type ConnectRequest struct {
	Addr string `json:"addr"`
}

// ConnectResponse is the answer to a connect.
type ConnectResponse struct {
	ID string `json:"id"`
}

func (s *APIServer) connect(r *http.Request, req ConnectRequest) (any, error) {
	if _, err := ParsePeerAddr(req.Addr); err != nil {
		return nil, badRequest(err)
	}
	id, err := s.node.Connect(r.Context(), req.Addr)
	if err != nil {
		return nil, &httpError{http.StatusBadGateway, err}
	}
	return ConnectResponse{ID: id.String()}, nil
}
