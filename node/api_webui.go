package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/myco-p2p/myco/chunker"
	"github.com/myco-p2p/myco/node/webui"
)

// The web dashboard is served on the API's address: GET / is the page,
// /ui/* its assets, and the page calls the same /api/v0/ endpoints as the
// CLI, plus a few of its own under /api/v0/webui/. A browser logs in with
// a one-time link (POST /api/v0/webui/login, asked for by `myco webui`
// with the bearer token) that GET /login swaps for an HttpOnly,
// SameSite=Strict session cookie. Every path other than /login needs the
// bearer token or that cookie; with the cookie, a request that changes
// anything (any method but GET and HEAD) also needs the session's CSRF
// token in the X-Myco-CSRF header and, when the browser sends an Origin,
// this server's own. The bearer-token API is unchanged.

// Dashboard constants.
const (
	// csrfHeader carries the session's CSRF token on state-changing
	// requests made with the session cookie.
	csrfHeader = "X-Myco-CSRF"
	// bandwidthSamples is the chart's 10 minutes of one-second samples.
	bandwidthSamples = 601
	// snapshotEvery is how often the events stream sends the state.
	snapshotEvery = time.Second
	// recentBlocks is how many blocks the ledger page lists.
	recentBlocks = 10
	// defaultBan is how long the dashboard's ban button bans a peer.
	defaultBan = 24 * time.Hour
	// uploadsDir (inside the repo) keeps files uploaded through the
	// dashboard: they are shared by reference, like any shared file.
	uploadsDir = "uploads"
)

// pageCSP is the dashboard's Content-Security-Policy: its own scripts,
// styles and connections only, no inline script, no framing.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// contentCSP is served with file contents opened in the browser: a
// sandbox, so a shared HTML file runs (if at all) in an origin of its own
// with no access to the dashboard or its cookie.
const contentCSP = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'"

// webUI is the dashboard's state in the API server.
type webUI struct {
	auth      *webui.Auth
	bandwidth *webui.Bandwidth
	assets    fs.FS
	done      chan struct{} // closed when the bandwidth sampler ended

	mu        sync.Mutex
	blocksTip string
	blocks    []blockRow
}

// sessionKey carries a request's dashboard session in its context.
type sessionKey struct{}

// cookieName is the session cookie's name: it carries the port, since
// browsers share cookies between the ports of one host and two daemons
// on one machine must not log each other out.
func (s *APIServer) cookieName() string {
	_, port, _ := net.SplitHostPort(s.Addr())
	return "myco_session_" + port
}

// startWebUI makes the dashboard's state and starts sampling bandwidth
// (its routes are in api_routes.go).
func (s *APIServer) startWebUI() {
	s.web = &webUI{
		auth:      webui.NewAuth(time.Now),
		bandwidth: webui.NewBandwidth(bandwidthSamples),
		assets:    webui.Assets(),
		done:      make(chan struct{}),
	}
	go s.sampleBandwidth()
}

// index serves the dashboard's page.
func (s *APIServer) index(w http.ResponseWriter, r *http.Request) { s.asset(w, r, "index.html") }

// uiFile serves one of the dashboard's assets.
func (s *APIServer) uiFile(w http.ResponseWriter, r *http.Request) {
	s.asset(w, r, r.PathValue("file"))
}

// session tells the dashboard its session's CSRF token.
func (s *APIServer) session(r *http.Request) (any, error) {
	sess, ok := r.Context().Value(sessionKey{}).(webui.Session)
	if !ok {
		return nil, badRequest(errors.New("session: this request carries the bearer token, not a dashboard session"))
	}
	return map[string]string{"csrf": sess.CSRF}, nil
}

func (s *APIServer) logout(r *http.Request) (any, error) {
	if sess, ok := r.Context().Value(sessionKey{}).(webui.Session); ok {
		s.web.auth.Logout(sess.ID)
	}
	return map[string]bool{"ok": true}, nil
}

func (s *APIServer) ban(_ *http.Request, req BanRequest) (any, error) {
	return s.node.Ban(req)
}

// closeWebUI waits for the bandwidth sampler, which ends when Shutdown
// begins.
func (s *APIServer) closeWebUI() {
	if s.web != nil {
		<-s.web.done
	}
}

// sampleBandwidth records the swarm's byte counters every second until
// the server stops.
func (s *APIServer) sampleBandwidth() {
	defer close(s.web.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		tot := s.node.swarm.Totals()
		s.web.bandwidth.Add(time.Now(), tot.Uploaded, tot.Downloaded)
		select {
		case <-s.stopping.Done():
			return
		case <-t.C:
		}
	}
}

// securityHeaders go on every answer of the server.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// pagePath reports whether a path is one of the dashboard's pages or
// assets (a browser asks for them, so refusals there are HTML).
func pagePath(p string) bool { return p == "/" || strings.HasPrefix(p, "/ui/") }

// safeMethod reports whether a method changes nothing.
func safeMethod(m string) bool { return m == http.MethodGet || m == http.MethodHead }

// authenticateWeb lets a request in with the bearer token (checked by
// authenticate, as before) or with a live dashboard session; a
// state-changing request with a session must also carry its CSRF token
// and, if the browser sent an Origin, come from this server's.
func (s *APIServer) authenticateWeb(next http.Handler) http.Handler {
	bearer := s.authenticate(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header())
		if r.URL.Path == "/login" {
			s.login(w, r)
			return
		}
		if r.Header.Get("Authorization") != "" {
			bearer.ServeHTTP(w, r)
			return
		}
		var sess webui.Session
		ok := false
		if c, err := r.Cookie(s.cookieName()); err == nil {
			sess, ok = s.web.auth.Check(c.Value)
		}
		if !ok {
			if pagePath(r.URL.Path) {
				s.requests.WithLabelValues("unauthorized", "401").Inc()
				loginPage(w, http.StatusUnauthorized, "You are not logged in. Run 'myco webui' on this machine and open the link it prints.")
				return
			}
			bearer.ServeHTTP(w, r) // answers 401 as it always did
			return
		}
		if !safeMethod(r.Method) {
			if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
				s.requests.WithLabelValues("forbidden", "403").Inc()
				writeError(w, http.StatusForbidden, fmt.Errorf("request from origin %s refused: the dashboard only accepts its own", o))
				return
			}
			if !sess.ValidCSRF(r.Header.Get(csrfHeader)) {
				s.requests.WithLabelValues("forbidden", "403").Inc()
				writeError(w, http.StatusForbidden, errors.New("missing or wrong CSRF token: reload the dashboard"))
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess)))
	})
}

// loginPage answers with a page that says msg and nothing about the node.
func loginPage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>myco</title>"+
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>"+
		"<body><main><h1>myco</h1><p role=\"alert\">%s</p></main></body></html>\n", htmlEscape(msg))
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

// LoginURL answers POST /api/v0/webui/login.
type LoginURL struct {
	URL     string `json:"url"`
	Expires int64  `json:"expires"` // Unix seconds
}

func (s *APIServer) newLogin(r *http.Request) (any, error) {
	if _, ok := r.Context().Value(sessionKey{}).(webui.Session); ok {
		return nil, &httpError{http.StatusForbidden, errors.New("login links are made with the API token ('myco webui'), not from a dashboard session")}
	}
	secret, err := s.web.auth.NewLogin()
	if err != nil {
		return nil, err
	}
	u := url.URL{Scheme: "http", Host: loginHost(s.ln.Addr()), Path: "/login", RawQuery: url.Values{"secret": {secret}}.Encode()}
	return LoginURL{URL: u.String(), Expires: time.Now().Add(webui.LoginTTL).Unix()}, nil
}

// loginHost is where a browser on this machine reaches the server: its
// address, with loopback for an unspecified (all interfaces) one.
func loginHost(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := ta.IP
	if ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
		if ta.IP.To4() == nil {
			ip = net.IPv6loopback
		}
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(ta.Port))
}

// login swaps a one-time secret for a session cookie and sends the
// browser to the dashboard.
func (s *APIServer) login(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, errors.New("login: GET only"))
		return
	}
	sess, err := s.web.auth.Redeem(r.URL.Query().Get("secret"))
	if err != nil {
		s.requests.WithLabelValues("/login", "401").Inc()
		loginPage(w, http.StatusUnauthorized, err.Error())
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     s.cookieName(),
		Value:    sess.ID,
		Path:     "/",
		MaxAge:   int(webui.SessionTTL.Seconds()),
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	})
	w.Header().Set("Cache-Control", "no-store")
	s.requests.WithLabelValues("/login", "303").Inc()
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// asset serves one embedded file.
func (s *APIServer) asset(w http.ResponseWriter, r *http.Request, name string) {
	b, err := fs.ReadFile(s.web.assets, name)
	if err != nil {
		writeError(w, http.StatusNotFound, fmt.Errorf("no such dashboard file: %s", name))
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-cache")
	s.requests.WithLabelValues("/ui", "200").Inc()
	w.Write(b)
}

// BanRequest is the body of POST /api/v0/peers/ban.
type BanRequest struct {
	ID string `json:"id"`
	// Duration is how long ("" is 24h).
	Duration string `json:"duration,omitempty"`
}

// BanResult answers a ban.
type BanResult struct {
	ID    string `json:"id"`
	Until int64  `json:"until"` // Unix seconds
}

// Ban refuses a peer's connections for a while and closes those open: the
// host's connection gater is the ledger's blocklist, so the ban holds for
// every protocol.
func (n *Node) Ban(req BanRequest) (BanResult, error) {
	p, err := peer.Decode(req.ID)
	if err != nil {
		return BanResult{}, badRequest(fmt.Errorf("ban: peer id %q: %w", req.ID, err))
	}
	if p == n.host.ID() {
		return BanResult{}, badRequest(errors.New("ban: that is this node"))
	}
	d := defaultBan
	if req.Duration != "" {
		if d, err = time.ParseDuration(req.Duration); err != nil || d <= 0 {
			return BanResult{}, badRequest(fmt.Errorf("ban: duration %q: want a positive duration", req.Duration))
		}
	}
	n.blocklist.Ban(p, d)
	n.host.Network().ClosePeer(p)
	n.log.Warn("peer banned", "peer", p, "reason", "asked by the user", "for", d)
	return BanResult{ID: p.String(), Until: time.Now().Add(d).Unix()}, nil
}

// WebFetchRequest is the body of POST /api/v0/webui/fetch.
type WebFetchRequest struct {
	// Root is a CID or a name.
	Root string `json:"root"`
	// Dir is the absolute directory to save into ("" is the repo's
	// downloads directory); the file takes the name its sharer gave.
	Dir string `json:"dir,omitempty"`
}

// detachedFetch starts a fetch that outlives the request (a page may be
// closed or reloaded; the fetch goes on, and the page follows it in the
// roots list). It answers with the fetch's first event, or its error if it
// fails before that.
func (s *APIServer) detachedFetch(r *http.Request, req WebFetchRequest) (any, error) {
	dir := req.Dir
	if dir == "" {
		dir = s.node.repo.File(downloadsDir)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	}
	if !filepath.IsAbs(dir) {
		return nil, badRequest(fmt.Errorf("fetch: folder %q must be an absolute path", dir))
	}
	root := strings.TrimSpace(req.Root)
	if root == "" || strings.ContainsAny(root, `/\`) {
		return nil, badRequest(fmt.Errorf("fetch: %q: want a CID or a name", req.Root))
	}
	n := s.node
	if n.ctx.Err() != nil {
		return nil, &httpError{http.StatusServiceUnavailable, errStoppedMidFetch}
	}
	first := make(chan FetchEvent, 1)
	failed := make(chan error, 1)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		sent := false
		err := n.Fetch(n.ctx, FetchRequest{Root: root, Dest: filepath.Join(dir, root), UseName: true}, func(ev FetchEvent) error {
			if !sent {
				sent = true
				first <- ev
			}
			return nil
		})
		switch {
		case err == nil:
		case !sent:
			failed <- err
		case n.ctx.Err() == nil:
			n.log.Warn("fetch failed", "root", root, "err", err)
		}
	}()
	select {
	case ev := <-first:
		return ev, nil
	case err := <-failed:
		return nil, err
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
}

// upload answers POST /api/v0/webui/upload?name=NAME: the body is the
// file, saved under <repo>/uploads and shared from there.
func (s *APIServer) upload(w http.ResponseWriter, r *http.Request) {
	const p = "/api/v0/webui/upload"
	root, err := s.saveUpload(r)
	if err != nil {
		s.fail(w, p, err)
		return
	}
	s.requests.WithLabelValues(p, "200").Inc()
	writeJSON(w, http.StatusOK, root)
}

func (s *APIServer) saveUpload(r *http.Request) (RootJSON, error) {
	name := r.URL.Query().Get("name")
	if err := chunker.CheckName(name); err != nil || strings.HasPrefix(name, ".") {
		return RootJSON{}, badRequest(fmt.Errorf("upload: file name %q: want a plain file name", name))
	}
	dir := s.node.repo.File(uploadsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return RootJSON{}, fmt.Errorf("upload: %w", err)
	}
	f, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		return RootJSON{}, fmt.Errorf("upload: %w", err)
	}
	tmp := f.Name()
	_, err = io.Copy(f, r.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return RootJSON{}, badRequest(fmt.Errorf("upload %s: %w", name, err))
	}
	dest, err := freeName(dir, name)
	if err != nil {
		os.Remove(tmp)
		return RootJSON{}, err
	}
	if err := os.Rename(tmp, dest); err != nil {
		os.Remove(tmp)
		return RootJSON{}, fmt.Errorf("upload: %w", err)
	}
	root, err := s.node.Share(r.Context(), ShareRequest{Path: dest})
	if err != nil {
		os.Remove(dest)
		return RootJSON{}, err
	}
	return root, nil
}

// freeName returns dir/name, or dir/"base (k).ext" for the first k free.
func freeName(dir, name string) (string, error) {
	ext := filepath.Ext(name)
	base := strings.TrimSuffix(name, ext)
	for k := 0; k < 1000; k++ {
		cand := name
		if k > 0 {
			cand = fmt.Sprintf("%s (%d)%s", base, k, ext)
		}
		p := filepath.Join(dir, cand)
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			return p, nil
		}
	}
	return "", badRequest(fmt.Errorf("upload: too many files named %s already", name))
}

// content answers GET /api/v0/webui/content?cid=C[&download=1] with a
// kept file's bytes, typed by its name's extension, to open in the
// browser (in a sandbox) or to save.
func (s *APIServer) content(w http.ResponseWriter, r *http.Request) {
	const p = "/api/v0/webui/content"
	c, err := parseRoot(r.URL.Query().Get("cid"))
	if err != nil {
		s.fail(w, p, err)
		return
	}
	info, err := s.node.store.Root(c)
	if err != nil {
		s.fail(w, p, &httpError{http.StatusNotFound, fmt.Errorf("%s is not kept here", c)})
		return
	}
	if info.Dir {
		s.fail(w, p, dirError(c))
		return
	}
	name := info.Name
	if name == "" {
		name = c.String()
	}
	ct := mime.TypeByExtension(filepath.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Security-Policy", contentCSP)
	h.Set("Content-Type", ct)
	h.Set("Content-Length", fmt.Sprint(info.Size))
	disp := "inline"
	if r.URL.Query().Get("download") != "" {
		disp = "attachment"
	}
	h.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": name}))
	s.requests.WithLabelValues(p, "200").Inc()
	if _, err := s.node.store.Cat(r.Context(), c, w); err != nil && r.Context().Err() == nil {
		s.log.Warn("serve content", "cid", c, "err", err)
	}
}

// Snapshot is one message of the dashboard's events stream: everything
// the pages show.
type Snapshot struct {
	Time      int64        `json:"time"` // Unix milliseconds
	ID        IDInfo       `json:"id"`
	Peers     []PeerRow    `json:"peers"`
	Roots     []RootRow    `json:"roots"`
	Storage   StorageJSON  `json:"storage"`
	Chain     ChainStatus  `json:"chain"`
	Mining    MineStatus   `json:"mining"`
	Balance   BalanceJSON  `json:"balance"`
	Blocks    []blockRow   `json:"blocks"`
	Bandwidth []webui.Rate `json:"bandwidth"`
	Totals    TotalsJSON   `json:"totals"`
	Downloads string       `json:"downloads"` // where fetches go by default
	// Problems says what could not be read for this snapshot (the pages
	// show it; the rest of the snapshot is still good).
	Problems []string `json:"problems,omitempty"`
}

// TotalsJSON is what the swarm exchanged since the daemon started.
type TotalsJSON struct {
	Uploaded   int64 `json:"uploaded"`
	Downloaded int64 `json:"downloaded"`
}

// PeerRow is one connected peer with what the swarm knows of it.
type PeerRow struct {
	PeerInfo
	UpRate     float64 `json:"up_rate"`
	DownRate   float64 `json:"down_rate"`
	Uploaded   int64   `json:"uploaded"`
	Downloaded int64   `json:"downloaded"`
	Choked     bool    `json:"choked"`
	Interested bool    `json:"interested"`
}

// RootRow is a root with its transfer figures.
type RootRow struct {
	RootJSON
	Bytes    int64   `json:"bytes"`
	Uploaded int64   `json:"uploaded"`
	Peers    int     `json:"peers"`
	UpRate   float64 `json:"up_rate"`
	DownRate float64 `json:"down_rate"`
}

// StorageJSON is what the node keeps.
type StorageJSON struct {
	Roots     int    `json:"roots"`
	KeptBytes uint64 `json:"kept_bytes"`
}

type blockRow struct {
	Height uint64 `json:"height"`
	Hash   string `json:"hash"`
	Time   int64  `json:"time"`
	Txs    int    `json:"txs"`
	Size   int    `json:"size"`
}

// snapshot gathers the dashboard's state.
func (s *APIServer) snapshot() Snapshot {
	n := s.node
	out := Snapshot{
		Time:      time.Now().UnixMilli(),
		ID:        n.ID(),
		Chain:     n.ChainStatus(),
		Mining:    n.MiningStatus(),
		Bandwidth: s.web.bandwidth.Rates(),
		Downloads: n.repo.File(downloadsDir),
		Peers:     []PeerRow{},
		Roots:     []RootRow{},
	}
	var err error
	if out.Balance, err = n.Balance(""); err != nil {
		out.Problems = append(out.Problems, "wallet balance: "+err.Error())
	}
	tot := n.swarm.Totals()
	out.Totals = TotalsJSON{Uploaded: tot.Uploaded, Downloaded: tot.Downloaded}
	swarmPeers := map[string]PeerRow{}
	for _, st := range n.swarm.Stats() {
		swarmPeers[st.ID.String()] = PeerRow{UpRate: st.UpRate, DownRate: st.DownRate, Uploaded: st.Uploaded,
			Downloaded: st.Downloaded, Choked: st.Choked, Interested: st.Interested}
	}
	for _, p := range n.Peers() {
		row := swarmPeers[p.ID]
		row.PeerInfo = p
		out.Peers = append(out.Peers, row)
	}
	roots, err := n.Roots()
	if err != nil {
		out.Problems = append(out.Problems, "roots: "+err.Error())
	}
	for _, r := range roots {
		if r.State == "seeding" || r.State == "broken" {
			out.Storage.Roots++
			out.Storage.KeptBytes += r.Size
		}
		out.Roots = append(out.Roots, n.rootRow(r))
	}
	out.Blocks = s.recentBlocks(out.Chain)
	return out
}

// rootRow adds a root's transfer figures: its session's, while the swarm
// runs one for it, and the bytes it sent since the daemon started.
func (n *Node) rootRow(r RootJSON) RootRow {
	row := RootRow{RootJSON: r}
	c, err := cid.Decode(r.CID)
	if err != nil {
		return row
	}
	row.Uploaded = n.swarm.RootTotals(c).Uploaded
	if st, ok := n.swarm.SessionStats(c); ok {
		row.Bytes, row.Peers, row.UpRate, row.DownRate = st.Bytes, st.Peers, st.UpRate, st.DownRate
		if row.Size == 0 && st.Size > 0 {
			row.Size = uint64(st.Size)
		}
	}
	return row
}

// recentBlocks lists the last blocks of the main chain, newest first,
// looked up again only when the tip moved.
func (s *APIServer) recentBlocks(st ChainStatus) []blockRow {
	s.web.mu.Lock()
	defer s.web.mu.Unlock()
	if s.web.blocksTip == st.Tip {
		return s.web.blocks
	}
	rows := []blockRow{}
	for i := uint64(0); i < recentBlocks && i <= st.Height; i++ {
		b, err := s.node.Block(fmt.Sprint(st.Height - i))
		if err != nil {
			break
		}
		rows = append(rows, blockRow{Height: b.Height, Hash: b.Hash, Time: b.Time, Txs: len(b.Txs), Size: b.Size})
	}
	s.web.blocksTip, s.web.blocks = st.Tip, rows
	return rows
}

// events answers GET /api/v0/webui/events with Server-Sent Events: the
// whole state (a Snapshot) at once, then every second, until the page
// goes away or the daemon stops.
func (s *APIServer) events(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		s.fail(w, "/api/v0/webui/events", errors.New("events: streaming unsupported"))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	s.requests.WithLabelValues("/api/v0/webui/events", "200").Inc()
	t := time.NewTicker(snapshotEvery)
	defer t.Stop()
	for {
		b, err := json.Marshal(s.snapshot())
		if err != nil {
			s.log.Warn("events: encode state", "err", err)
			return
		}
		if _, err := fmt.Fprintf(w, "event: state\ndata: %s\n\n", b); err != nil {
			return
		}
		flusher.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
	}
}
