//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The web dashboard in a real headless Chromium (Debian's chromium),
// driven through the DevTools protocol: two daemons, one browser, one tab
// each, every step asserted on what the page shows.

// screenshotDirEnv names the folder the screenshots go to; by default
// <tmp>/myco-webui-screenshots, which the test logs.
const screenshotDirEnv = "MYCO_WEBUI_SCREENSHOTS"

// chromiumPath finds Debian's chromium, installing it (as .ci/run installs
// nftables) when it is missing and this is root on a Debian-like system;
// anything else fails the test with what to do.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const install = "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver"
	if _, err := exec.LookPath("apt-get"); err != nil || os.Geteuid() != 0 {
		t.Fatalf("the dashboard's browser test needs Debian's chromium: install it as root with: %s", install)
	}
	t.Logf("chromium is missing; installing it: %s", install)
	out, err := exec.Command("sh", "-c", install).CombinedOutput()
	if err != nil {
		t.Fatalf("install chromium (%s): %v\n%s", install, err, out)
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium installed but not found on PATH: %v", err)
	}
	return p
}

// browser starts headless Chromium with a fresh profile; it ends with the
// test.
func browser(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox, // the test runs as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// Without these Chromium phones home, which the closed test
		// network refuses.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 860),
	)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// tab is one browser tab on one daemon's dashboard.
type tab struct {
	t    *testing.T
	name string
	ctx  context.Context
	repo string
	shot string // the screenshots folder
}

// problemWatch runs in every document the tab opens, before the page's
// own scripts: it records uncaught errors and Content-Security-Policy
// violations, which the test then asserts there were none of.
const problemWatch = `window.pageProblems = [];
window.addEventListener("error", e => window.pageProblems.push("error: " + e.message));
window.addEventListener("unhandledrejection", e => window.pageProblems.push("unhandled rejection: " + e.reason));
document.addEventListener("securitypolicyviolation", e => window.pageProblems.push("CSP: " + e.violatedDirective + " " + e.blockedURI));`

func newTab(t *testing.T, b context.Context, name, repo, shots string) *tab {
	ctx, cancel := chromedp.NewContext(b)
	t.Cleanup(cancel)
	tb := &tab{t: t, name: name, ctx: ctx, repo: repo, shot: shots}
	_, err := chromedp.Run(ctx, func(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, target, page.AddScriptToEvaluateOnNewDocument,
			page.AddScriptToEvaluateOnNewDocumentParams{Source: problemWatch})
		return chromedp.Void{}, err
	})
	if err != nil {
		t.Fatalf("%s: watch for page errors: %v", name, err)
	}
	return tb
}

// noProblems fails the test if the page hit an uncaught error or a CSP
// violation since it loaded.
func (tb *tab) noProblems() {
	tb.t.Helper()
	if p := tb.eval(`window.pageProblems.join("\n")`); p != "" {
		tb.t.Errorf("%s: the page had problems:\n%s", tb.name, p)
	}
}

func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		tb.t.Fatalf("%s: %s: %v", tb.name, what, err)
	}
}

// eval evaluates a JavaScript expression to a string.
func (tb *tab) eval(js string) string {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		tb.t.Fatalf("%s: evaluate %s: %v", tb.name, js, err)
	}
	return v
}

// waitFor polls a JavaScript expression until it is true, failing the test
// with what the page shows (show, another expression) after timeout.
func (tb *tab) waitFor(what, js, show string, timeout time.Duration) {
	tb.t.Helper()
	_, err := chromedp.Run(tb.ctx, chromedp.Poll[chromedp.Void](js,
		chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(100*time.Millisecond)))
	if err != nil {
		got, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[string](show))
		tb.t.Fatalf("%s: %s: %v; the page shows %q", tb.name, what, err, got)
	}
}

func (tb *tab) text(id string) string {
	tb.t.Helper()
	return tb.eval(fmt.Sprintf(`document.getElementById(%q).textContent`, id))
}

// page shows one page of the dashboard.
func (tb *tab) page(name string) {
	tb.t.Helper()
	tb.do("open "+name, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = %q`, "#"+name)),
		chromedp.WaitVisible(chromedp.CSS("#page-"+name)))
}

// screenshot writes the tab's whole page, as a PNG, to the screenshots
// folder.
func (tb *tab) screenshot(file string) {
	tb.t.Helper()
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatalf("%s: screenshot: %v", tb.name, err)
	}
	if err := os.WriteFile(filepath.Join(tb.shot, file), png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// fill sets form fields (by id) and clicks the form's submit button.
func (tb *tab) submit(form string, fields ...string) {
	tb.t.Helper()
	var steps []chromedp.Action[chromedp.Void]
	for i := 0; i+1 < len(fields); i += 2 {
		steps = append(steps, chromedp.SetValue(chromedp.CSS("#"+fields[i]), fields[i+1]))
	}
	steps = append(steps, chromedp.Click(chromedp.CSS("#"+form+` button[type="submit"]`)))
	tb.do("submit "+form, steps...)
}

// login opens the login link `myco webui` prints and waits for the live
// dashboard.
func (tb *tab) login() {
	tb.t.Helper()
	r := myco(tb.t, tb.repo, "webui")
	link := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(link, "http://127.0.0.1:") || !strings.Contains(link, "/login?secret=") {
		tb.t.Fatalf("myco webui: exit %d, %q: %s", r.code, r.stdout, r.stderr)
	}
	tb.do("open the login link", chromedp.Navigate(link))
	tb.waitFor("the dashboard goes live", `document.body.dataset.ready === "1" && document.getElementById("conn").textContent === "live"`,
		`document.body.innerText`, 20*time.Second)
}

func screenshotDir(t *testing.T) string {
	dir := os.Getenv(screenshotDirEnv)
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "myco-webui-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots of each page go to %s", dir)
	return dir
}

// TestDashboardInBrowser: log in with the link of `myco webui`; upload a
// file and see it seeding; on a second daemon's dashboard fetch it by CID
// and see its progress reach 100%; send coins and see the other wallet's
// balance change after a block; publish a name and resolve it.
func TestDashboardInBrowser(t *testing.T) {
	shots := screenshotDir(t)
	seeder, leecher := initRepo(t), initRepo(t)
	// The seeder's upload limit keeps the fetch in progress for a few
	// seconds, so the page shows it moving.
	startDaemon(t, seeder, "--mine", "--max-upload", "2M")
	startDaemon(t, leecher)
	seederID, leecherID := getID(t, seeder), getID(t, leecher)
	if r := myco(t, leecher, "connect", seederID.Addrs[0]); r.code != 0 {
		t.Fatalf("connect: %s", r.stderr)
	}
	b := browser(t)
	a := newTab(t, b, "seeder", seeder, shots)
	l := newTab(t, b, "leecher", leecher, shots)

	// Without logging in the browser gets a page that says how, and
	// nothing else.
	api, err := os.ReadFile(filepath.Join(seeder, "api"))
	if err != nil {
		t.Fatal(err)
	}
	a.do("open the dashboard logged out", chromedp.Navigate("http://"+strings.TrimSpace(string(api))+"/"))
	if body := a.eval(`document.body.innerText`); !strings.Contains(body, "myco webui") || strings.Contains(body, seederID.ID) {
		t.Errorf("logged-out page shows %q", body)
	}

	// Log in; the overview shows who the node is.
	a.login()
	l.login()
	if got := a.text("ov-peer"); got != seederID.ID {
		t.Errorf("overview peer id = %q; want %s", got, seederID.ID)
	}
	// Every field has a label and every button a name for screen readers,
	// and the pages are reached from the keyboard.
	if bad := a.eval(`[...document.querySelectorAll("input")].filter(i => !i.labels.length && !i.getAttribute("aria-label")).map(i => i.id).join(" ") +
		[...document.querySelectorAll("button")].filter(b => !b.textContent.trim() && !b.getAttribute("aria-label")).map(b => b.id).join(" ")`); bad != "" {
		t.Errorf("fields or buttons without a label: %s", bad)
	}
	a.do("go to Peers by keyboard", chromedp.Focus(chromedp.CSS("#nav-peers")), chromedp.KeyEvent("\r"))
	a.waitFor("Enter on the Peers link shows the Peers page", `!document.getElementById("page-peers").hidden && document.getElementById("page-overview").hidden && document.activeElement.id === "h-peers"`,
		`document.activeElement.id`, 5*time.Second)
	a.waitFor("the overview counts the leecher", `document.getElementById("ov-peers").textContent === "1"`,
		`document.getElementById("ov-peers").textContent`, 20*time.Second)

	// Upload a file on the seeder's Files page: it is listed, seeding.
	data := make([]byte, 6<<20+1234)
	rand.Read(data)
	src := filepath.Join(t.TempDir(), "holiday.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	a.page("files")
	a.do("upload", chromedp.SetUploadFiles(chromedp.CSS("#upload-input"), []string{src}))
	a.waitFor("the upload is listed as seeding",
		`[...document.querySelectorAll("#roots tbody tr")].some(tr => tr.querySelector(".name").textContent === "holiday.bin" && tr.dataset.state === "seeding")`,
		`document.getElementById("roots").innerText`, 30*time.Second)
	root := a.eval(`[...document.querySelectorAll("#roots tbody tr")].find(tr => tr.querySelector(".name").textContent === "holiday.bin").dataset.cid`)
	if st, ok := stat(t, seeder, root); !ok || st.State != "seeding" || st.Size != int64(len(data)) {
		t.Fatalf("the daemon says the upload %s is %+v; want seeding %d bytes", root, st, len(data))
	}
	if got := a.eval(fmt.Sprintf(`document.querySelector('#roots tr[data-cid=%q] .size').textContent`, root)); got != "6.00 MiB" {
		t.Errorf("size shown %q; want 6.00 MiB", got)
	}

	// Share a folder on this machine by its path and list its entries.
	album := filepath.Join(t.TempDir(), "album")
	if err := os.MkdirAll(album, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"a.txt", "b.txt"} {
		if err := os.WriteFile(filepath.Join(album, f), []byte("picture "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a.submit("share-form", "share-path", album)
	a.waitFor("the shared folder is listed", `[...document.querySelectorAll("#roots tbody tr")].some(tr => tr.querySelector(".name").textContent === "album/" && tr.dataset.state === "seeding")`,
		`document.getElementById("roots").innerText + " / " + document.getElementById("toast").textContent`, 20*time.Second)
	a.do("list the folder", chromedp.Click(chromedp.JSPath(`[...document.querySelectorAll("#roots tbody tr")].find(tr => tr.querySelector(".name").textContent === "album/").querySelector(".actions button")`)))
	a.waitFor("the folder's entries", `!document.getElementById("entries-card").hidden && [...document.querySelectorAll("#entries tbody tr td:first-child")].map(td => td.textContent).join(" ") === "a.txt b.txt"`,
		`document.getElementById("entries-card").innerText`, 10*time.Second)
	// A share of a path that is not there says why.
	a.submit("share-form", "share-path", filepath.Join(album, "nothing-here"))
	a.waitFor("the share error", `document.getElementById("toast").textContent.startsWith("Share: stat ") && document.getElementById("toast").textContent.includes("no such file")`,
		`document.getElementById("toast").textContent`, 10*time.Second)
	a.do("dismiss the message", chromedp.KeyEvent(kb.Escape))
	if got := a.text("toast"); got != "" {
		t.Errorf("Escape left the message %q", got)
	}

	// On the leecher's dashboard, fetch it by CID and watch it arrive.
	l.page("files")
	l.eval(fmt.Sprintf(`(() => {
		window.seen = [];
		const record = () => {
			const tr = document.querySelector('#roots tr[data-cid=%q]');
			if (tr) window.seen.push(tr.dataset.state + " " + tr.dataset.percent);
		};
		new MutationObserver(record).observe(document.getElementById("roots"), {subtree: true, childList: true, characterData: true, attributes: true});
		return "";
	})()`, root))
	// A name no one owns is refused with the reason.
	l.submit("fetch-form", "fetch-root", "no-such-name")
	l.waitFor("the fetch error", `document.getElementById("toast").textContent.includes("no one owns the name")`,
		`document.getElementById("toast").textContent`, 10*time.Second)
	l.submit("fetch-form", "fetch-root", root)
	l.waitFor("the fetch shows progress",
		`window.seen.some(s => /^downloading ([1-9]|[1-9][0-9])(\.|$| )/.test(s))`,
		`window.seen.join(", ")`, 60*time.Second)
	l.screenshot("files.png")
	l.waitFor("the fetch reaches 100%",
		fmt.Sprintf(`(tr => tr && tr.dataset.state === "seeding" && tr.dataset.percent === "100")(document.querySelector('#roots tr[data-cid=%q]'))`, root),
		`window.seen.join(", ")`, 60*time.Second)
	got, err := os.ReadFile(filepath.Join(leecher, "downloads", "holiday.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the fetched file is not the uploaded one (%d bytes, %v)", len(got), err)
	}
	if got := l.eval(fmt.Sprintf(`document.querySelector('#roots tr[data-cid=%q] .name').textContent`, root)); got != "holiday.bin" {
		t.Errorf("leecher lists the fetch as %q", got)
	}
	t.Logf("states the leecher's page showed: %s", l.eval(`window.seen.filter((s, i, a) => i === 0 || s !== a[i-1]).join(", ")`))
	// The seeder's page counts what it uploaded.
	a.waitFor("the seeder shows the upload", fmt.Sprintf(`document.querySelector('#roots tr[data-cid=%q] .uploaded').textContent === "6.00 MiB"`, root),
		fmt.Sprintf(`document.querySelector('#roots tr[data-cid=%q]').innerText`, root), 20*time.Second)

	// Peers: each sees the other, directly.
	a.page("peers")
	a.waitFor("the seeder lists the leecher",
		fmt.Sprintf(`(tr => tr && tr.querySelector(".kind").textContent === "direct")(document.querySelector('#peers tr[data-peer=%q]'))`, leecherID.ID),
		`document.getElementById("peers").innerText`, 20*time.Second)
	a.screenshot("peers.png")

	// Send coins from the seeder (it mines) to the leecher's address, as
	// its Ledger page shows it; the leecher's balance changes after a block.
	l.page("ledger")
	to := l.text("lg-address")
	if want := strings.TrimSpace(myco(t, leecher, "wallet", "address").stdout); to != want {
		t.Fatalf("leecher's ledger page shows address %q; want %s", to, want)
	}
	if got := l.text("lg-balance"); got != "0" {
		t.Fatalf("leecher's balance before = %q; want 0", got)
	}
	a.page("ledger")
	a.waitFor("the seeder has mined coins", `Number(document.getElementById("lg-balance").textContent) > 100000`,
		`document.getElementById("lg-balance").textContent`, 60*time.Second)
	a.submit("send-form", "send-to", to, "send-amount", "54321", "send-fee", "5")
	a.waitFor("the send asks for confirmation", `document.getElementById("confirm").open`, `document.body.innerText`, 5*time.Second)
	if q := a.text("confirm-text"); !strings.Contains(q, "54321") || !strings.Contains(q, to) {
		t.Errorf("confirmation says %q", q)
	}
	a.do("confirm the send", chromedp.Click(chromedp.CSS("#confirm-ok")))
	a.waitFor("the send succeeds", `document.getElementById("send-result").textContent.startsWith("Sent: transaction ")`,
		`document.getElementById("send-result").textContent`, 10*time.Second)
	l.waitFor("the leecher's balance changes after a block", `document.getElementById("lg-balance").textContent === "54321"`,
		`document.getElementById("lg-balance").textContent`, 90*time.Second)
	if b := getBalance(t, leecher); b.Balance != 54321 {
		t.Errorf("the leecher's daemon says balance %d; want 54321", b.Balance)
	}

	// Publish the file under a name on the seeder; resolve it on the
	// leecher once the claim is mined, and verify the CID.
	a.submit("publish-form", "publish-cid", root, "publish-name", "holiday-photos")
	a.waitFor("the publish is accepted", `/^(Committed|Published)/.test(document.getElementById("publish-result").textContent)`,
		`document.getElementById("publish-result").textContent`, 20*time.Second)
	deadline := time.Now().Add(90 * time.Second)
	for {
		l.submit("resolve-form", "resolve-name", "holiday-photos")
		l.waitFor("the resolve answers", `document.getElementById("resolve-result").textContent !== ""`,
			`document.getElementById("resolve-result").textContent`, 10*time.Second)
		if l.eval(`document.getElementById("resolve-result").dataset.cid || ""`) == root {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("holiday-photos never resolved to %s; the page shows %q", root, l.text("resolve-result"))
		}
		// Wait for the next block before asking again.
		h := l.text("lg-height")
		l.waitFor("a new block", fmt.Sprintf(`document.getElementById("lg-height").textContent !== %q`, h),
			`document.getElementById("lg-height").textContent`, 60*time.Second)
		l.eval(`document.getElementById("resolve-result").textContent = ""`)
	}
	if got := l.text("resolve-result"); !strings.HasPrefix(got, "holiday-photos → "+root) {
		t.Errorf("resolve shows %q", got)
	}
	l.submit("verify-form", "verify-cid", root)
	l.waitFor("the verify answers", `document.getElementById("verify-result").textContent.startsWith("Anchored at height ")`,
		`document.getElementById("verify-result").textContent`, 10*time.Second)

	// The overview of the seeder: mining, a balance, the chain.
	a.page("overview")
	if got := a.text("ov-mining"); !strings.HasPrefix(got, "mining, ") {
		t.Errorf("overview mining = %q", got)
	}
	if h, err := strconv.Atoi(strings.Fields(a.text("ov-height"))[0]); err != nil || h < 3 {
		t.Errorf("overview height = %q", a.text("ov-height"))
	}
	a.waitFor("the chart draws the upload", `document.getElementById("bw-up").getAttribute("points").split(" ").length > 5`,
		`document.getElementById("bw-up").getAttribute("points")`, 10*time.Second)
	a.screenshot("overview.png")
	l.page("ledger")
	l.screenshot("ledger.png")

	// The overview's button stops the miner.
	a.do("stop mining", chromedp.Click(chromedp.CSS("#mine-toggle")))
	a.waitFor("the overview shows the miner stopped", `document.getElementById("ov-mining").textContent === "not mining" && document.getElementById("mine-toggle").textContent === "Start mining"`,
		`document.getElementById("ov-mining").textContent`, 10*time.Second)

	// Narrow windows get one column and labelled table cells.
	l.page("files")
	l.do("narrow the window", chromedp.EmulateViewport(400, 860))
	if got := l.eval(fmt.Sprintf(`getComputedStyle(document.querySelector('#roots tr[data-cid=%q] td.size'), "::before").content`, root)); got != `"Size: "` {
		t.Errorf("narrow files page labels the size cell %s; want \"Size: \"", got)
	}
	l.screenshot("files-narrow.png")

	// Remove the fetched file on the leecher, after a confirmation.
	l.do("narrow no more", chromedp.EmulateViewport(1200, 860))
	l.do("remove", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#roots tr[data-cid=%q] button.danger`, root))))
	l.waitFor("the remove asks for confirmation", `document.getElementById("confirm").open`, `document.body.innerText`, 5*time.Second)
	l.do("confirm the remove", chromedp.Click(chromedp.CSS("#confirm-ok")))
	l.waitFor("the removed root is gone", fmt.Sprintf(`!document.querySelector('#roots tr[data-cid=%q]')`, root),
		`document.getElementById("roots").innerText`, 10*time.Second)
	if _, ok := stat(t, leecher, root); ok {
		t.Errorf("the leecher's daemon still knows %s after the remove", root)
	}

	// Ban the leecher from the seeder's Peers page: after a confirmation it
	// is disconnected and gone from the list.
	a.page("peers")
	a.do("ban", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#peers tr[data-peer=%q] button`, leecherID.ID))))
	a.waitFor("the ban asks for confirmation", `document.getElementById("confirm").open`, `document.body.innerText`, 5*time.Second)
	a.do("confirm the ban", chromedp.Click(chromedp.CSS("#confirm-ok")))
	a.waitFor("the banned peer is gone", fmt.Sprintf(`!document.querySelector('#peers tr[data-peer=%q]') && document.getElementById("toast").textContent.startsWith("Banned ")`, leecherID.ID),
		`document.getElementById("peers").innerText + " / " + document.getElementById("toast").textContent`, 10*time.Second)
	if ids := peerIDs(t, seeder); len(ids) != 0 {
		t.Errorf("the seeder is still connected to %v after the ban", ids)
	}
	if r := myco(t, seeder, "peers", "--json"); !strings.Contains(r.stdout, `"banned": true`) || !strings.Contains(r.stdout, leecherID.ID) {
		t.Errorf("the seeder's peers --json does not list the banned leecher: %s", r.stdout)
	}

	a.noProblems()
	l.noProblems()

	// Logging out ends the session: the page says how to log in again.
	lctx, cancel := context.WithTimeout(a.ctx, 15*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(lctx, chromedp.Click(chromedp.CSS("#logout")))
	if err != nil || resp.Status != 401 {
		t.Fatalf("log out: the page reloads to %v (%v); want 401", resp, err)
	}
	if body := a.eval(`document.body.innerText`); !strings.Contains(body, "You are not logged in") {
		t.Errorf("after log out the page shows %q", body)
	}
}
