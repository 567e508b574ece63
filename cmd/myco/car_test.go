package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myco-p2p/myco/internal/treecmp"
)

// carJS installs the independent CAR and UnixFS implementation the interop
// test checks myco against: js-ipfs's @ipld/car, ipfs-unixfs-importer and
// ipfs-unixfs-exporter (testdata/carjs, script interop.mjs).
func carJS(t *testing.T) string { return jsPackages(t, "carjs", "interop.mjs") }

// jsPackages installs, once per version of testdata/NAME (cached under the
// user's cache directory), the npm packages of testdata/NAME/package.json
// beside its script, and returns the directory holding both. No package's
// install script runs: none is needed, and some would download from GitHub.
func jsPackages(t *testing.T, name, script string) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the JavaScript interop tests need %s (Node.js 20 or later) on PATH: %v", tool, err)
		}
	}
	src := filepath.Join("testdata", name)
	h := sha256.New()
	files := map[string][]byte{}
	for _, name := range []string{"package.json", script} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
		h.Write(b)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "myco-test", name+"-"+hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err == nil {
		return dir
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install of testdata/%s: %v\n%s", name, err, out)
	}
	// Another test process may have won the race: either copy will do.
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, "node_modules")); serr != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runJS runs interop.mjs and returns its stdout, trimmed.
func runJS(t *testing.T, js string, args ...string) string {
	t.Helper()
	return strings.TrimSpace(string(runNode(t, js, "interop.mjs", args...)))
}

// runNode runs script in dir with node and returns its stdout.
func runNode(t *testing.T, dir, script string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("node", append([]string{filepath.Join(dir, script)}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s %v: %v\n%s", script, args, err, stderr.String())
	}
	return out
}

// carV2 wraps a CARv1 in a CARv2 (no index), as go-car writes one.
func carV2(v1 []byte) []byte {
	out := []byte{0x0a, 0xa1, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x02}
	var h [40]byte
	binary.LittleEndian.PutUint64(h[16:], 51)
	binary.LittleEndian.PutUint64(h[24:], uint64(len(v1)))
	return append(append(out, h[:]...), v1...)
}

// TestCARInterop moves DAGs between myco and an independent IPFS
// implementation (js-ipfs's libraries, via npm) as CAR files: a CAR that
// myco exports is read, verified and unpacked by it into the original
// files; a CAR it writes imports into myco under the same root; myco →
// CAR → myco round-trips; corrupt and truncated CARs keep nothing.
func TestCARInterop(t *testing.T) {
	js := carJS(t)
	a, b, c := initRepo(t), initRepo(t), initRepo(t)
	startDaemon(t, a)
	startDaemon(t, b)
	startDaemon(t, c)
	dir := t.TempDir()
	tree := filepath.Join(dir, "album")
	os.MkdirAll(filepath.Join(tree, "photos"), 0o755)
	big := make([]byte, 3<<20+12345)
	rand.Read(big)
	os.WriteFile(filepath.Join(tree, "big.bin"), big, 0o644)
	os.WriteFile(filepath.Join(tree, "empty"), nil, 0o644)
	for i := range 5000 { // 5000 links of 57 bytes pass 256 KiB: the folder is a HAMT
		os.WriteFile(filepath.Join(tree, "photos", fmt.Sprintf("IMG_%04d.jpg", i)), fmt.Appendf(nil, "photo %d\n", i), 0o644)
	}
	r := myco(t, a, "share", tree)
	if r.code != 0 {
		t.Fatalf("share: %s", r.stderr)
	}
	root := strings.TrimSpace(r.stdout)

	// myco → CAR → the JS implementation: verified, unpacked, identical.
	x := filepath.Join(dir, "x.car")
	if r := myco(t, a, "export", root, "-o", x); r.code != 0 {
		t.Fatalf("export: %s", r.stderr)
	}
	out := filepath.Join(dir, "js-out")
	if got := runJS(t, js, "extract", x, out); got != root {
		t.Fatalf("the JS reader found root %s, want %s", got, root)
	}
	treecmp.Same(t, tree, filepath.Join(out, root))
	// export to stdout writes the same bytes.
	xb, _ := os.ReadFile(x)
	if r := myco(t, a, "export", root); r.code != 0 || r.stdout != string(xb) {
		t.Fatalf("export to stdout: %d bytes, exit %d: %s", len(r.stdout), r.code, r.stderr)
	}

	// myco → CAR → myco.
	r = myco(t, b, "import", x)
	if r.code != 0 || strings.TrimSpace(r.stdout) != root {
		t.Fatalf("import of myco's CAR: %q %s", r.stdout, r.stderr)
	}
	if r := myco(t, b, "cat", root+"/big.bin"); r.code != 0 || r.stdout != string(big) {
		t.Fatalf("cat after import: exit %d: %s", r.code, r.stderr)
	}
	if r := myco(t, b, "export", root); r.stdout != string(xb) {
		t.Fatal("the imported root exports to other bytes")
	}

	// The JS implementation → CAR → myco, under the root it computed.
	y := filepath.Join(dir, "y.car")
	jsRoot := runJS(t, js, "pack", tree, y)
	r = myco(t, b, "import", y, "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"cid": "`+jsRoot+`"`) || !strings.Contains(r.stdout, `"version": 1`) {
		t.Fatalf("import of the JS CAR (root %s): %q %s", jsRoot, r.stdout, r.stderr)
	}
	got := t.TempDir()
	if r := mycoIn(t, b, got, "fetch", jsRoot, "-o", "album"); r.code != 0 {
		t.Fatalf("fetch of an imported root: %s", r.stderr)
	}
	treecmp.Same(t, tree, filepath.Join(got, "album"))

	// A CARv2 reads too.
	v2 := filepath.Join(dir, "x2.car")
	os.WriteFile(v2, carV2(xb), 0o644)
	if r := myco(t, c, "import", v2, "--json"); r.code != 0 || !strings.Contains(r.stdout, `"version": 2`) {
		t.Fatalf("import of a CARv2: %q %s", r.stdout, r.stderr)
	}
	if r := myco(t, c, "rm", root); r.code != 0 {
		t.Fatalf("rm: %s", r.stderr)
	}

	// Corrupt or cut short: a one-line error, and nothing kept.
	bad := bytes.Clone(xb)
	bad[len(bad)/2] ^= 0x40
	cut := xb[:len(xb)*2/3]
	for name, data := range map[string][]byte{"corrupt": bad, "truncated": cut} {
		p := filepath.Join(dir, name+".car")
		os.WriteFile(p, data, 0o644)
		r := myco(t, c, "import", p)
		if r.code == 0 {
			t.Fatalf("import of a %s CAR exited 0", name)
		}
		assertOneLine(t, r.stderr, "import CAR")
		if roots := lsJSON(t, c); len(roots) != 0 {
			t.Fatalf("a %s CAR left roots: %v", name, roots)
		}
	}
}
