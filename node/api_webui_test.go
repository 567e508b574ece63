package node

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
)

// webServer starts a node on a mocknet host with its API on loopback.
func webServer(t *testing.T) (*APIServer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "repo")
	if _, err := InitRepo(path, "dev"); err != nil {
		t.Fatal(err)
	}
	repo, err := OpenRepo(path)
	if err != nil {
		t.Fatal(err)
	}
	mn := mocknet.New()
	t.Cleanup(func() { mn.Close() })
	h, err := mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(repo, Options{Host: h})
	if err != nil {
		t.Fatal(err)
	}
	token, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	s, err := ListenAPI(n, "127.0.0.1:0", token)
	if err != nil {
		n.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	return s, token
}

type webClient struct {
	t    *testing.T
	base string
	http *http.Client
}

func (c *webClient) do(method, path string, hdr map[string]string, body string) (int, string, http.Header) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// login asks for a login link with the token and follows it with a
// cookie jar; it returns the logged-in client and the session's CSRF
// token.
func login(t *testing.T, s *APIServer, token string) (*webClient, string) {
	t.Helper()
	bearer := &webClient{t, "http://" + s.Addr(), &http.Client{}}
	code, body, _ := bearer.do("POST", "/api/v0/webui/login", map[string]string{"Authorization": "Bearer " + token}, "")
	if code != 200 {
		t.Fatalf("login link: %d %s", code, body)
	}
	link := between(body, `"url":"`, `"`)
	jar, _ := cookiejar.New(nil)
	c := &webClient{t, "http://" + s.Addr(), &http.Client{Jar: jar}}
	resp, err := c.http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "/ui/app.js") {
		t.Fatalf("login link led to %d: %s", resp.StatusCode, page)
	}
	u, _ := url.Parse(c.base)
	for _, ck := range jar.Cookies(u) {
		if !strings.HasPrefix(ck.Name, "myco_session_") {
			t.Errorf("cookie %s set", ck.Name)
		}
	}
	// The link works once.
	again, err := (&http.Client{}).Get(link)
	if err != nil {
		t.Fatal(err)
	}
	again.Body.Close()
	if again.StatusCode != http.StatusUnauthorized {
		t.Errorf("login link used twice: %d; want 401", again.StatusCode)
	}
	code, body, _ = c.do("GET", "/api/v0/webui/session", nil, "")
	if code != 200 {
		t.Fatalf("session: %d %s", code, body)
	}
	return c, between(body, `"csrf":"`, `"`)
}

func between(s, from, to string) string {
	_, after, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, to)
	return v
}

// TestDashboardNeedsLogin: without the cookie or the token every dashboard
// path is refused with 401 and a page that says nothing about the node.
func TestDashboardNeedsLogin(t *testing.T) {
	s, token := webServer(t)
	anon := &webClient{t, "http://" + s.Addr(), &http.Client{}}
	id := s.node.host.ID().String()
	for _, p := range []string{"/", "/ui/app.js", "/ui/app.css", "/ui/index.html", "/ui/nothing", "/api/v0/webui/events",
		"/api/v0/webui/session", "/api/v0/webui/content?cid=x", "/api/v0/id", "/metrics"} {
		code, body, hdr := anon.do("GET", p, nil, "")
		if code != http.StatusUnauthorized {
			t.Errorf("GET %s without login: %d; want 401", p, code)
		}
		if strings.Contains(body, id) || strings.Contains(body, "app.js") {
			t.Errorf("GET %s without login reveals the node: %s", p, body)
		}
		if hdr.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: no Content-Security-Policy", p)
		}
	}
	for _, p := range []string{"/api/v0/webui/upload?name=a", "/api/v0/webui/fetch", "/api/v0/peers/ban", "/api/v0/send", "/api/v0/webui/login"} {
		if code, _, _ := anon.do("POST", p, nil, "{}"); code != http.StatusUnauthorized {
			t.Errorf("POST %s without login: %d; want 401", p, code)
		}
	}
	// A made-up cookie is no session, and a wrong secret no login.
	code, _, _ := anon.do("GET", "/", map[string]string{"Cookie": "myco_session_1=" + strings.Repeat("a", 64)}, "")
	if code != http.StatusUnauthorized {
		t.Errorf("GET / with a made-up cookie: %d; want 401", code)
	}
	if code, _, hdr := anon.do("GET", "/login?secret=nope", nil, ""); code != http.StatusUnauthorized || hdr.Get("Set-Cookie") != "" {
		t.Errorf("login with a wrong secret: %d, cookie %q; want 401 and none", code, hdr.Get("Set-Cookie"))
	}
	// The bearer token works as before, on the API and the page.
	bearer := map[string]string{"Authorization": "Bearer " + token}
	if code, body, _ := anon.do("GET", "/api/v0/id", bearer, ""); code != 200 || !strings.Contains(body, id) {
		t.Errorf("GET /api/v0/id with the token: %d %s", code, body)
	}
	if code, _, _ := anon.do("GET", "/", bearer, ""); code != 200 {
		t.Errorf("GET / with the token: %d", code)
	}
	if code, _, _ := anon.do("POST", "/api/v0/mine/stop", bearer, ""); code != 200 {
		t.Errorf("POST mine/stop with the token and no CSRF token: %d; want 200 (the API is unchanged)", code)
	}
	if code, _, _ := anon.do("GET", "/api/v0/id", map[string]string{"Authorization": "Bearer wrong"}, ""); code != 401 {
		t.Errorf("wrong token: %d; want 401", code)
	}
}

// TestDashboardNeedsCSRF: with the session cookie, reading works, but a
// state-changing request needs the session's CSRF token and this origin.
func TestDashboardNeedsCSRF(t *testing.T) {
	s, token := webServer(t)
	c, csrf := login(t, s, token)
	if len(csrf) != 64 {
		t.Fatalf("csrf token %q", csrf)
	}
	for _, p := range []string{"/", "/ui/app.js", "/api/v0/id", "/api/v0/mine/status"} {
		if code, body, _ := c.do("GET", p, nil, ""); code != 200 {
			t.Errorf("GET %s logged in: %d %s", p, code, body)
		}
	}
	cases := []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"no CSRF token", nil, http.StatusForbidden},
		{"wrong CSRF token", map[string]string{csrfHeader: strings.Repeat("0", 64)}, http.StatusForbidden},
		{"other origin", map[string]string{csrfHeader: csrf, "Origin": "http://evil.example"}, http.StatusForbidden},
		{"CSRF token", map[string]string{csrfHeader: csrf}, http.StatusOK},
		{"CSRF token and own origin", map[string]string{csrfHeader: csrf, "Origin": "http://" + s.Addr()}, http.StatusOK},
	}
	for i, tc := range cases {
		for _, p := range []string{"/api/v0/mine/stop", fmt.Sprintf("/api/v0/webui/upload?name=f%d.txt", i)} {
			code, body, _ := c.do("POST", p, tc.hdr, tc.name)
			if code != tc.want {
				t.Errorf("%s: POST %s: %d %s; want %d", tc.name, p, code, body, tc.want)
			}
		}
	}
	// The uploads let through are shared; the refused ones left nothing.
	roots, err := s.node.Roots()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range roots {
		if r.State == "seeding" {
			names = append(names, r.Name)
		}
	}
	sort.Strings(names)
	if len(roots) != 2 || strings.Join(names, " ") != "f3.txt f4.txt" {
		t.Errorf("roots after the uploads = %+v; want f3.txt and f4.txt, seeding", roots)
	}
	// Open and download serve the bytes in a sandbox.
	for _, r := range roots {
		if r.Name != "f3.txt" {
			continue
		}
		code, body, hdr := c.do("GET", "/api/v0/webui/content?download=1&cid="+r.CID, nil, "")
		if code != 200 || body != "CSRF token" || !strings.HasPrefix(hdr.Get("Content-Security-Policy"), "sandbox") ||
			hdr.Get("Content-Disposition") != "attachment; filename=f3.txt" || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
			t.Errorf("download f3.txt: %d %q %v", code, body, hdr)
		}
		if code, _, hdr := c.do("GET", "/api/v0/webui/content?cid="+r.CID, nil, ""); code != 200 || hdr.Get("Content-Disposition") != "inline; filename=f3.txt" {
			t.Errorf("open f3.txt: %d %v", code, hdr)
		}
	}
	if code, _, _ := c.do("GET", "/api/v0/webui/content?cid=bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq", nil, ""); code != http.StatusNotFound {
		t.Errorf("content of a root not kept: %d; want 404", code)
	}
	files, _ := os.ReadDir(s.node.repo.File(uploadsDir))
	if len(files) != 2 {
		t.Errorf("%d files in the uploads folder; want 2", len(files))
	}
	// A session cannot mint login links, and logging out ends it.
	if code, _, _ := c.do("POST", "/api/v0/webui/login", map[string]string{csrfHeader: csrf}, ""); code != http.StatusForbidden {
		t.Errorf("login link from a session: %d; want 403", code)
	}
	if code, _, _ := c.do("POST", "/api/v0/webui/logout", map[string]string{csrfHeader: csrf}, ""); code != 200 {
		t.Errorf("logout: %d", code)
	}
	if code, _, _ := c.do("GET", "/", nil, ""); code != http.StatusUnauthorized {
		t.Errorf("GET / after logout: %d; want 401", code)
	}
}

// TestDashboardRefusesBadInput: the dashboard's own endpoints answer bad
// input with a 4xx and a message, and leave nothing behind.
func TestDashboardRefusesBadInput(t *testing.T) {
	s, token := webServer(t)
	c, csrf := login(t, s, token)
	h := map[string]string{csrfHeader: csrf}
	cases := []struct {
		path, body string
		want       int
		says       string
	}{
		{"/api/v0/webui/upload?name=", "x", 400, "plain file name"},
		{"/api/v0/webui/upload?name=..", "x", 400, "plain file name"},
		{"/api/v0/webui/upload?name=a%2Fb", "x", 400, "plain file name"},
		{"/api/v0/webui/upload?name=.hidden", "x", 400, "plain file name"},
		{"/api/v0/webui/fetch", `{"root":""}`, 400, "want a CID or a name"},
		{"/api/v0/webui/fetch", `{"root":"../etc"}`, 400, "want a CID or a name"},
		{"/api/v0/webui/fetch", `{"root":"bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq","dir":"rel"}`, 400, "absolute"},
		{"/api/v0/webui/fetch", `{"root":"no-such-name"}`, 404, "no one owns"},
		{"/api/v0/peers/ban", `{"id":"nope"}`, 400, "peer id"},
		{"/api/v0/peers/ban", `{"id":"` + s.node.host.ID().String() + `"}`, 400, "this node"},
		{"/api/v0/peers/ban", `{"id":"12D3KooWJmqJptkD22Zi94a6pRwyqUVaDAoCJCpVvyG8kFwhWY4P","duration":"-1h"}`, 400, "positive duration"},
	}
	for _, tc := range cases {
		code, body, _ := c.do("POST", tc.path, h, tc.body)
		if code != tc.want || !strings.Contains(body, tc.says) {
			t.Errorf("POST %s %s: %d %s; want %d saying %q", tc.path, tc.body, code, body, tc.want, tc.says)
		}
	}
	if files, _ := os.ReadDir(s.node.repo.File(uploadsDir)); len(files) != 0 {
		t.Errorf("refused uploads left %d files", len(files))
	}
	if roots, _ := s.node.Roots(); len(roots) != 0 {
		t.Errorf("refused requests left roots: %+v", roots)
	}
}
