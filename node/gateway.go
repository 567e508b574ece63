package node

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/myco-p2p/myco/car"
	"github.com/myco-p2p/myco/chunker"
)

// GatewayFile holds the running daemon's gateway address (host:port).
const GatewayFile = "gateway"

// RawContentType is the media type of one block.
const RawContentType = "application/vnd.ipld.raw"

// immutable is the Cache-Control of everything under /ipfs/: content
// addressed, it never changes.
const immutable = "public, max-age=29030400, immutable"

// Gateway serves the IPFS trustless gateway (and plain file bytes, and
// directory listings) for what the node keeps, read-only, on its own
// listener, without the API's token. See the package doc.
type Gateway struct {
	node  *Node
	fetch bool
	log   *slog.Logger
	ln    net.Listener
	srv   *http.Server
	done  chan error
}

// ListenGateway starts the gateway on addr. With fetch, content the node
// does not have is fetched from the swarm before it is served.
func ListenGateway(n *Node, addr string, fetch bool) (*Gateway, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("gateway: listen on %s: %w", addr, err)
	}
	g := &Gateway{node: n, fetch: fetch, log: n.log.With("svc", "gateway"), ln: ln, done: make(chan error, 1)}
	mux := http.NewServeMux()
	g.routes(mux)
	g.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return n.ctx },
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
	}
	go func() {
		err := g.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		g.done <- err
	}()
	return g, nil
}

// about answers the gateway's root with what it serves.
func about(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "myco trustless gateway: GET /ipfs/CID[/PATH]")
}

// Addr is the address the gateway listens on.
func (g *Gateway) Addr() string { return g.ln.Addr().String() }

// Shutdown stops the gateway, letting requests under way end until ctx does.
func (g *Gateway) Shutdown(ctx context.Context) error {
	err := g.srv.Shutdown(ctx)
	if err != nil {
		g.srv.Close()
	}
	return errors.Join(err, <-g.done)
}

// gwError is an answer with a status and a plain-text reason.
type gwError struct {
	status int
	err    error
}

func (e *gwError) Error() string { return e.err.Error() }

func gwFail(status int, format string, a ...any) error {
	return &gwError{status, fmt.Errorf(format, a...)}
}

// request is one parsed /ipfs/ request.
type request struct {
	root   cid.Cid
	sub    string // path inside root, without leading or trailing slashes
	slash  bool   // the URL path ends with "/"
	format string // "", "raw" or "car"
	scope  chunker.Scope
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "the gateway is read-only: GET or HEAD", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	err := g.answer(w, r)
	if err == nil {
		return
	}
	var ge *gwError
	status := http.StatusInternalServerError
	if errors.As(err, &ge) {
		status = ge.status
	} else {
		switch {
		case errors.Is(err, chunker.ErrNoEntry):
			status = http.StatusNotFound
		case errors.Is(err, chunker.ErrNotDir):
			status = http.StatusBadRequest
		default:
			var he *httpError
			if errors.As(contentError(err), &he) {
				status = he.status
			}
		}
	}
	if status >= 500 {
		g.log.Warn("gateway request failed", "path", r.URL.Path, "err", err)
	}
	http.Error(w, err.Error(), status)
}

func parseRequest(r *http.Request) (request, error) {
	rest := strings.TrimPrefix(r.URL.Path, "/ipfs/")
	cs, sub, _ := strings.Cut(rest, "/")
	c, err := cid.Decode(cs)
	if err != nil {
		return request{}, gwFail(http.StatusBadRequest, "bad CID %q: %v", cs, err)
	}
	req := request{root: c, sub: strings.Trim(sub, "/"), slash: strings.HasSuffix(r.URL.Path, "/"), scope: chunker.ScopeAll}
	q := r.URL.Query()
	switch f := q.Get("format"); f {
	case "", "raw", "car":
		req.format = f
	default:
		return request{}, gwFail(http.StatusBadRequest, "format %q: want raw or car", f)
	}
	if req.format == "" {
		for _, a := range strings.Split(r.Header.Get("Accept"), ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(a))
			if err != nil {
				continue
			}
			if mt == RawContentType {
				req.format = "raw"
				break
			}
			if mt == CARContentType {
				if v, ok := params["version"]; ok && v != "1" {
					return request{}, gwFail(http.StatusBadRequest, "CAR version %s: only version 1 is served", v)
				}
				req.format = "car"
				break
			}
		}
	}
	switch s := q.Get("dag-scope"); s {
	case "", "all":
	case "entity":
		req.scope = chunker.ScopeEntity
	case "block":
		req.scope = chunker.ScopeBlock
	default:
		return request{}, gwFail(http.StatusBadRequest, "dag-scope %q: want block, entity or all", s)
	}
	return req, nil
}

func (g *Gateway) answer(w http.ResponseWriter, r *http.Request) error {
	req, err := parseRequest(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := g.have(ctx, req.root); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", immutable)
	switch req.format {
	case "raw":
		c, err := chunker.ResolvePath(ctx, g.node.store, req.root, req.sub)
		if err != nil {
			return err
		}
		b, err := g.node.store.Get(ctx, c)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", RawContentType)
		w.Header().Set("ETag", `"`+c.String()+`.raw"`)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		if r.Method == http.MethodHead || etagMatches(r, w) {
			return nil
		}
		_, err = w.Write(b)
		return err
	case "car":
		return g.serveCAR(w, r, req)
	}
	c, err := chunker.ResolvePath(ctx, g.node.store, req.root, req.sub)
	if err != nil {
		return err
	}
	if isDir(ctx, g.node.store, c) {
		return g.serveDir(w, r, req, c)
	}
	return g.serveFile(w, r, c, path.Base("/"+req.sub))
}

// have makes sure the node holds root's first block, fetching the whole
// root from the swarm if the gateway may.
func (g *Gateway) have(ctx context.Context, root cid.Cid) error {
	if g.node.store.Has(root) {
		return nil
	}
	if !g.fetch {
		return gwFail(http.StatusNotFound, "%s is not kept here (this gateway serves only what its node keeps: gateway_fetch is off)", root)
	}
	if err := g.node.fetchFor(ctx, root, 0); err != nil {
		return gwFail(http.StatusBadGateway, "fetch %s: %v", root, err)
	}
	return nil
}

// etagMatches answers 304 when the client already has this ETag.
func etagMatches(r *http.Request, w http.ResponseWriter) bool {
	inm := r.Header.Get("If-None-Match")
	if inm == "" {
		return false
	}
	etag := w.Header().Get("ETag")
	for _, t := range strings.Split(inm, ",") {
		if t = strings.TrimSpace(t); t == etag || t == "*" || t == "W/"+etag {
			w.WriteHeader(http.StatusNotModified)
			return true
		}
	}
	return false
}

func (g *Gateway) serveCAR(w http.ResponseWriter, r *http.Request, req request) error {
	scope := map[chunker.Scope]string{chunker.ScopeAll: "all", chunker.ScopeEntity: "entity", chunker.ScopeBlock: "block"}[req.scope]
	w.Header().Set("Content-Type", CARContentType+"; version=1; order=dfs; dups=n")
	w.Header().Set("ETag", `"`+req.root.String()+"/"+req.sub+".car."+scope+`"`)
	w.Header().Set("Content-Disposition", `attachment; filename="`+req.root.String()+`.car"`)
	if r.Method == http.MethodHead || etagMatches(r, w) {
		return nil
	}
	ctx := r.Context()
	// The path is resolved before the first byte, so a bad path is a 404.
	if _, err := chunker.ResolvePath(ctx, g.node.store, req.root, req.sub); err != nil {
		return err
	}
	cw, err := car.NewWriter(w, req.root)
	if err != nil {
		return err
	}
	_, err = chunker.WalkPath(ctx, g.node.store, req.root, req.sub, req.scope, cw.Put)
	if err == nil {
		err = cw.Flush()
	}
	if err != nil {
		// The status is sent: the client's CAR ends short, which a
		// verifying client notices.
		g.log.Warn("gateway CAR ended early", "root", req.root, "path", req.sub, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

func (g *Gateway) serveFile(w http.ResponseWriter, r *http.Request, c cid.Cid, name string) error {
	fr, err := chunker.NewFileReader(r.Context(), g.node.store, c)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", `"`+c.String()+`"`)
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		var head [512]byte
		n, err := io.ReadFull(fr, head[:])
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return err
		}
		ct = http.DetectContentType(head[:n])
		if _, err := fr.Seek(0, io.SeekStart); err != nil {
			return err
		}
	}
	w.Header().Set("Content-Type", ct)
	// ServeContent answers Range (206, multipart), If-None-Match (with
	// the ETag set above) and HEAD.
	http.ServeContent(w, r, name, time.Time{}, fr)
	return nil
}

// dirEntry is one line of a directory listing.
type dirEntry struct {
	Name, Href, CID string
	Size            uint64
	Dir             bool
}

var dirPage = template.Must(template.New("dir").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>/ipfs/{{.Path}}</title>
<style>body{font-family:sans-serif;margin:2em}td{padding:.15em 1em .15em 0}.c{font-family:monospace;color:#666;font-size:.85em}</style>
</head><body>
<h1>/ipfs/{{.Path}}</h1>
<p>{{len .Entries}} entries. Directory <span class="c">{{.CID}}</span></p>
<table>
{{if .Parent}}<tr><td><a href="..">..</a></td><td></td><td></td></tr>{{end}}
{{range .Entries}}<tr><td><a href="{{.Href}}">{{.Name}}{{if .Dir}}/{{end}}</a></td><td>{{if not .Dir}}{{.Size}}{{end}}</td><td class="c">{{.CID}}</td></tr>
{{end}}</table></body></html>
`))

func (g *Gateway) serveDir(w http.ResponseWriter, r *http.Request, req request, c cid.Cid) error {
	if !req.slash {
		// Relative links in the listing (and in an index.html) need the
		// trailing slash.
		u := *r.URL
		u.Path += "/"
		http.Redirect(w, r, u.String(), http.StatusMovedPermanently)
		return nil
	}
	ctx := r.Context()
	links, err := chunker.DirEntries(ctx, g.node.store, c)
	if err != nil {
		return err
	}
	for _, l := range links {
		if l.Name == "index.html" {
			return g.serveFile(w, r, l.Hash, l.Name)
		}
	}
	slices.SortFunc(links, func(a, b chunker.PBLink) int { return strings.Compare(a.Name, b.Name) })
	ents := make([]dirEntry, len(links))
	for i, l := range links {
		// "./" keeps a name with a colon from reading as a scheme.
		e := dirEntry{Name: l.Name, Href: "./" + url.PathEscape(l.Name), CID: l.Hash.String(), Size: l.Tsize}
		if l.Hash.Type() == chunker.CodecDagPB && isDir(ctx, g.node.store, l.Hash) {
			e.Dir, e.Href = true, e.Href+"/"
		}
		ents[i] = e
	}
	w.Header().Set("ETag", `"DirIndex-`+c.String()+`"`)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	if r.Method == http.MethodHead || etagMatches(r, w) {
		return nil
	}
	return dirPage.Execute(w, map[string]any{
		"Path": path.Join(req.root.String(), req.sub), "CID": c.String(), "Entries": ents, "Parent": req.sub != "",
	})
}
