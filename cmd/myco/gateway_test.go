package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/myco-p2p/myco/car"
	"github.com/myco-p2p/myco/chunker"
	"github.com/myco-p2p/myco/internal/treecmp"
)

// gatewayOf waits for a daemon's gateway file and returns its base URL.
func gatewayOf(t *testing.T, repo string) string {
	t.Helper()
	var addr string
	if !poll(10*time.Second, 20*time.Millisecond, func() bool {
		b, err := os.ReadFile(filepath.Join(repo, "gateway"))
		addr = strings.TrimSpace(string(b))
		return err == nil && addr != ""
	}) {
		t.Fatalf("no gateway file in %s", repo)
	}
	return "http://" + addr
}

// get does one gateway request.
func get(t *testing.T, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// carBlocks reads a CAR, verifying every block against its CID.
func carBlocks(t *testing.T, b []byte) ([]cid.Cid, map[cid.Cid][]byte, []cid.Cid) {
	t.Helper()
	cr, err := car.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var order []cid.Cid
	blocks := map[cid.Cid][]byte{}
	for {
		c, d, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := chunker.Verify(c, d); err != nil {
			t.Fatal(err)
		}
		order = append(order, c)
		blocks[c] = bytes.Clone(d)
	}
	return cr.Roots, blocks, order
}

// setConfig changes keys of a repo's config.json.
func setConfig(t *testing.T, repo string, kv map[string]any) {
	t.Helper()
	p := filepath.Join(repo, "config.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range kv {
		m[k] = v
	}
	b, _ = json.Marshal(m)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestGateway checks the trustless gateway of a daemon: raw blocks, CARs
// of every dag-scope through a sharded folder, file bytes with Range and
// ETag, directory listings (sharded too), what it refuses, and, on a node
// with gateway_fetch, content fetched from the swarm first.
func TestGateway(t *testing.T) {
	a, b := initRepo(t), initRepo(t)
	setConfig(t, b, map[string]any{"gateway_fetch": true})
	startDaemon(t, a)
	startDaemon(t, b)
	gw := gatewayOf(t, a)
	dir := t.TempDir()
	tree := filepath.Join(dir, "site")
	os.MkdirAll(filepath.Join(tree, "photos"), 0o755)
	big := make([]byte, 3<<20+777)
	rand.Read(big)
	os.WriteFile(filepath.Join(tree, "big.bin"), big, 0o644)
	os.WriteFile(filepath.Join(tree, "notes.txt"), []byte("plain words\n"), 0o644)
	for i := range 5000 { // 5000 links of 57 bytes pass 256 KiB: the folder is a HAMT
		os.WriteFile(filepath.Join(tree, "photos", fmt.Sprintf("IMG_%04d.jpg", i)), fmt.Appendf(nil, "photo %d\n", i), 0o644)
	}
	r := myco(t, a, "share", tree)
	if r.code != 0 {
		t.Fatalf("share: %s", r.stderr)
	}
	root := cid.MustParse(strings.TrimSpace(r.stdout))
	base := gw + "/ipfs/" + root.String()

	// One block.
	resp, body := get(t, base+"?format=raw")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.ipld.raw" || chunker.Verify(root, body) != nil {
		t.Fatalf("raw root: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, body = get(t, base+"/photos/IMG_0042.jpg", "Accept", "application/vnd.ipld.raw")
	if resp.StatusCode != 200 || string(body) != "photo 42\n" {
		t.Fatalf("raw block by path: %d %q", resp.StatusCode, body)
	}

	// CARs: all is what `myco export` writes; entity of the sharded folder
	// is the path and every shard, no file; block is the path and one block.
	resp, all := get(t, base, "Accept", "application/vnd.ipld.car")
	if r := myco(t, a, "export", root.String()); resp.StatusCode != 200 || r.stdout != string(all) {
		t.Fatalf("CAR dag-scope=all: %d, %d bytes; export wrote %d", resp.StatusCode, len(all), len(r.stdout))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/vnd.ipld.car; version=1") {
		t.Fatalf("CAR content type %q", ct)
	}
	// An independent verifying client (js-ipfs's CAR reader and UnixFS
	// exporter, see car_test.go) checks every block of the gateway's CAR
	// and unpacks the original files.
	// An independent verifying client, @helia/verified-fetch, with this
	// gateway as its only source, gets the bytes of a file and of a file
	// inside the sharded folder, each block checked against its CID.
	vf := jsPackages(t, "verifiedfetch", "fetch.mjs")
	if got := runNode(t, vf, "fetch.mjs", gw, root.String(), "/big.bin"); !bytes.Equal(got, big) {
		t.Errorf("verified-fetch of big.bin: %d bytes, not the %d shared", len(got), len(big))
	}
	if got := runNode(t, vf, "fetch.mjs", gw, root.String(), "/photos/IMG_4242.jpg"); string(got) != "photo 4242\n" {
		t.Errorf("verified-fetch of photos/IMG_4242.jpg through the HAMT: %q", got)
	}

	js := carJS(t)
	carFile := filepath.Join(dir, "gw.car")
	os.WriteFile(carFile, all, 0o644)
	if got := runJS(t, js, "extract", carFile, filepath.Join(dir, "js")); got != root.String() {
		t.Fatalf("the JS reader found root %s", got)
	}
	treecmp.Same(t, tree, filepath.Join(dir, "js", root.String()))
	_, body = get(t, base+"/photos?format=car&dag-scope=entity")
	roots, blocks, order := carBlocks(t, body)
	if len(roots) != 1 || roots[0] != root || order[0] != root {
		t.Fatalf("entity CAR roots %v, first %s", roots, order[0])
	}
	for c := range blocks {
		if c.Type() == chunker.CodecRaw {
			t.Fatalf("entity CAR of a folder holds a file block %s", c)
		}
	}
	if len(blocks) < 3 {
		t.Fatalf("entity CAR of a sharded folder holds %d blocks", len(blocks))
	}
	_, body = get(t, base+"/photos/IMG_4321.jpg?format=car&dag-scope=block")
	_, blocks, order = carBlocks(t, body)
	last := order[len(order)-1]
	if string(blocks[last]) != "photo 4321\n" || len(order) < 3 {
		t.Fatalf("block CAR: %d blocks, last %q", len(order), blocks[last])
	}

	// File bytes: Range, ETag, caching, content type.
	resp, body = get(t, base+"/big.bin", "Range", "bytes=1000000-1999999")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, big[1000000:2000000]) {
		t.Fatalf("range: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, body = get(t, base+"/big.bin", "Range", "bytes=-100")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, big[len(big)-100:]) {
		t.Fatalf("suffix range: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, body = get(t, base+"/big.bin")
	etag := resp.Header.Get("ETag")
	if !bytes.Equal(body, big) || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || etag == "" {
		t.Fatalf("whole file: %d bytes, %v", len(body), resp.Header)
	}
	if resp, _ = get(t, base+"/big.bin", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", resp.StatusCode)
	}
	if resp, _ = get(t, base+"/notes.txt"); !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("notes.txt served as %q", resp.Header.Get("Content-Type"))
	}

	// Listings, through the sharded folder too.
	if resp, _ = get(t, base+"/photos"); resp.StatusCode != http.StatusMovedPermanently {
		t.Fatalf("folder without a slash: %d", resp.StatusCode)
	}
	resp, body = get(t, base+"/photos/")
	if resp.StatusCode != 200 || strings.Count(string(body), "<tr>") != 5001 || !strings.Contains(string(body), `href="./IMG_4999.jpg"`) {
		t.Fatalf("listing of the sharded folder: %d, %d rows", resp.StatusCode, strings.Count(string(body), "<tr>"))
	}

	// Refusals.
	other := "bafkreigdbkjpt34itqd4panhz6m7lnyucxkncke6qrdt2g46n4a7576gfu"
	for url, want := range map[string]int{
		gw + "/ipfs/" + other:      http.StatusNotFound,
		base + "/photos/nope.jpg":  http.StatusNotFound,
		gw + "/ipfs/not-a-cid":     http.StatusBadRequest,
		base + "?dag-scope=some":   http.StatusBadRequest,
		base + "/notes.txt/inside": http.StatusBadRequest,
	} {
		if resp, body := get(t, url); resp.StatusCode != want {
			t.Errorf("%s: %d %q, want %d", url, resp.StatusCode, body, want)
		}
	}
	if resp, err := http.Post(base, "text/plain", strings.NewReader("x")); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %v %v", resp, err)
	}

	// gateway_fetch: b fetches from a what it does not have.
	if r := myco(t, b, "connect", getID(t, a).Addrs[0]); r.code != 0 {
		t.Fatalf("connect: %s", r.stderr)
	}
	resp, body = get(t, gatewayOf(t, b)+"/ipfs/"+root.String()+"/big.bin")
	if resp.StatusCode != 200 || !bytes.Equal(body, big) {
		t.Fatalf("gateway_fetch: %d, %d bytes", resp.StatusCode, len(body))
	}
}
