package swarm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/myco-p2p/myco/chunker"
)

// waitFor waits on the download's updates until cond holds.
func waitFor(t *testing.T, dl *Download, what string, cond func(SessionStats) bool) {
	t.Helper()
	guard := time.After(hangGuard)
	for !cond(dl.Progress()) {
		select {
		case <-dl.Updates():
		case <-guard:
			t.Fatalf("%s: still %+v", what, dl.Progress())
		}
	}
}

func waitEnd(t *testing.T, dl *Download) error {
	t.Helper()
	select {
	case <-dl.Done():
	case <-time.After(hangGuard):
		t.Fatalf("download of %s does not end: %+v", dl.Root(), dl.Progress())
	}
	_, err := dl.Result()
	return err
}

// Cancel ends a download with ErrCancelled, keeps its final state in
// Finished, and a fetch of the same root right after starts clean and
// completes.
func TestCancelThenFetchAgain(t *testing.T) {
	n := newTestNet(t, false)
	seed := n.node("seed", Config{MaxUpload: 256 << 10})
	leech := n.node("leech", Config{})
	data := randomBytes(t, 2<<20)
	root := n.share(seed, data, 32<<10)
	dl, _ := leech.fetch(t, root)
	waitFor(t, dl, "some leaves", func(s SessionStats) bool { return s.Have >= 4 && s.State == "downloading" })
	addrs := leech.svc.PeerAddrs()
	if !slices.ContainsFunc(addrs, func(a peer.AddrInfo) bool { return a.ID == seed.h.ID() && len(a.Addrs) > 0 }) {
		t.Fatalf("PeerAddrs %v lacks the seeder", addrs)
	}
	if err := leech.svc.Cancel(root, false); err != nil {
		t.Fatal(err)
	}
	if err := waitEnd(t, dl); !errors.Is(err, ErrCancelled) {
		t.Fatalf("cancelled download ended with %v", err)
	}
	st, ok := leech.svc.Finished(root)
	if !ok || st.State != "cancelled" {
		t.Fatalf("Finished(%s) = %+v, %v", root, st, ok)
	}
	if l := leech.svc.FinishedList(); len(l) != 1 || !l[0].Root.Equals(root) {
		t.Fatalf("FinishedList %+v", l)
	}
	if err := leech.svc.Cancel(root, false); !errors.Is(err, ErrNotFetching) {
		t.Fatalf("second cancel: %v", err)
	}
	if inc, err := leech.store.Incoming(); err != nil || len(inc) != 0 {
		t.Fatalf("incoming after cancel: %v %v", inc, err)
	}
	seed.svc.SetMaxUpload(0) // the limit only kept the first fetch running
	dl2, dest := leech.fetch(t, root)
	waitDone(t, dl2)
	checkFile(t, dest, data)
	if _, ok := leech.svc.Finished(root); ok {
		t.Fatal("Finished entry kept after a new fetch")
	}
}

// Drop of a root being fetched (`rm`) cancels it.
func TestDropWhileFetching(t *testing.T) {
	n := newTestNet(t, false)
	seed := n.node("seed", Config{MaxUpload: 256 << 10})
	leech := n.node("leech", Config{})
	data := randomBytes(t, 1<<20)
	root := n.share(seed, data, 32<<10)
	dl, _ := leech.fetch(t, root)
	waitFor(t, dl, "a leaf", func(s SessionStats) bool { return s.Have >= 1 })
	leech.svc.Drop(root)
	if err := waitEnd(t, dl); !errors.Is(err, ErrCancelled) {
		t.Fatalf("dropped download ended with %v", err)
	}
	if leech.svc.Download(root) != nil {
		t.Fatal("download still listed after Drop")
	}
	seed.svc.SetMaxUpload(0) // the limit only kept the first fetch running
	dl2, dest := leech.fetch(t, root)
	waitDone(t, dl2)
	checkFile(t, dest, data)
}

// Stop keeps the partial data and ends with ErrStopped; a resume picks it
// up.
func TestStopThenResume(t *testing.T) {
	n := newTestNet(t, false)
	seed := n.node("seed", Config{MaxUpload: 256 << 10})
	leech := n.node("leech", Config{})
	data := randomBytes(t, 1<<20)
	root := n.share(seed, data, 32<<10)
	dl, dest := leech.fetch(t, root)
	waitFor(t, dl, "a leaf", func(s SessionStats) bool { return s.Have >= 1 })
	dl.Stop()
	if err := waitEnd(t, dl); !errors.Is(err, ErrStopped) {
		t.Fatalf("stopped download ended with %v", err)
	}
	if _, ok := leech.svc.Finished(root); ok {
		t.Fatal("a stopped download is listed in Finished")
	}
	seed.svc.SetMaxUpload(0) // the limit only kept the first fetch running
	dls, err := leech.svc.Resume(context.Background())
	if err != nil || len(dls) != 1 {
		t.Fatalf("resume: %v %v", dls, err)
	}
	waitDone(t, dls[0])
	checkFile(t, dest, data)
}

// With no provider the fetch fails after its Timeout with a reason, the
// failure stays in Finished, and once a provider appears a fetch again
// succeeds.
func TestNoProvidersThenFetchAgain(t *testing.T) {
	n := newTestNet(t, true)
	seed := n.node("seed", Config{})
	leech := n.node("leech", Config{})
	data := randomBytes(t, 100<<10)
	root := n.share(seed, data, 32<<10)
	// Nobody provides it, until the test says so.
	var mu sync.Mutex
	current := newRouter()
	leech.svc.cfg.FindProviders = func(ctx context.Context, c cid.Cid, limit int) (<-chan peer.AddrInfo, error) {
		mu.Lock()
		r := current
		mu.Unlock()
		return r.find(ctx, c, limit)
	}
	dl, err := leech.svc.Fetch(context.Background(), root, filepath.Join(t.TempDir(), "out"), FetchOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, dl, "finding peers", func(s SessionStats) bool { return s.State == "finding peers" })
	for range 6 {
		n.tick(time.Second)
	}
	if err := waitEnd(t, dl); !errors.Is(err, ErrNoProviders) {
		t.Fatalf("got %v, want ErrNoProviders", err)
	}
	st, ok := leech.svc.Finished(root)
	if !ok || st.State != "failed" || st.Reason != "no peer provides the root within 5s" {
		t.Fatalf("Finished: %+v %v", st, ok)
	}
	if inc, err := leech.store.Incoming(); err != nil || len(inc) != 0 {
		t.Fatalf("incoming after a failed fetch: %v %v", inc, err)
	}
	mu.Lock()
	current = n.router
	mu.Unlock()
	dl2, dest := leech.fetch(t, root)
	waitDone(t, dl2)
	checkFile(t, dest, data)
	if _, ok := leech.svc.Finished(root); ok {
		t.Fatal("Finished entry kept after a new fetch")
	}
	leech.svc.Forget(root)
}

// A sharer whose file changed after share stops serving the root, marks
// it broken and reports it once; the fetcher fails saying why.
func TestSourceChangedOnSharer(t *testing.T) {
	n := newTestNet(t, true)
	var broken atomic.Int32
	gotBroken := make(chan cid.Cid, 8)
	seed := n.node("seed", Config{OnBroken: func(root cid.Cid, err error) {
		broken.Add(1)
		gotBroken <- root
	}})
	leech := n.node("leech", Config{})
	data := randomBytes(t, 256<<10)
	path := filepath.Join(t.TempDir(), "shared.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ri, err := seed.store.AddPath(context.Background(), path, chunker.Params{ChunkSize: 32 << 10, MaxLinks: 8})
	if err != nil {
		t.Fatal(err)
	}
	root := ri.Cid
	n.router.add(root, seed.info())
	// The file is edited after share: same size, other bytes, later mtime.
	edited := randomBytes(t, len(data))
	if err := os.WriteFile(path, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	dl, err := leech.svc.Fetch(context.Background(), root, filepath.Join(t.TempDir(), "out"), FetchOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-gotBroken:
		if !c.Equals(root) {
			t.Fatalf("OnBroken(%s), want %s", c, root)
		}
	case <-time.After(hangGuard):
		t.Fatal("the sharer never noticed its file changed")
	}
	waitFor(t, dl, "the sharer gone", func(s SessionStats) bool { return s.State == "finding peers" })
	for range 6 {
		n.tick(time.Second)
	}
	if err := waitEnd(t, dl); !errors.Is(err, ErrSourceBroken) {
		t.Fatalf("got %v, want ErrSourceBroken", err)
	}
	if got := broken.Load(); got != 1 {
		t.Fatalf("OnBroken called %d times", got)
	}
	if _, err := seed.svc.session(root); err == nil {
		t.Fatal("the sharer accepts a session for its broken root")
	}
}

// A peer announces the root but rejects every request: requests to it back
// off, and after the idle limit the fetch fails saying so; with a peer that
// delivers, a fetch again succeeds.
func TestIdleLimit(t *testing.T) {
	n := newTestNet(t, true)
	refuser := n.node("refuser", Config{refuseLeaves: true})
	leech := n.node("leech", Config{})
	data := randomBytes(t, 256<<10)
	root := n.share(refuser, data, 32<<10)
	dl, err := leech.svc.Fetch(context.Background(), root, filepath.Join(t.TempDir(), "out"),
		FetchOptions{Timeout: 30 * time.Second, IdleLimit: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, dl, "the refuser's leaves", func(s SessionStats) bool { return s.State == "downloading" && s.Leaves > 0 })
	for range 119 {
		n.tick(time.Second)
	}
	if st := dl.Progress(); st.State != "downloading" {
		t.Fatalf("before the idle limit: %+v", st)
	}
	n.tick(time.Second)
	if err := waitEnd(t, dl); !errors.Is(err, ErrNoDelivery) {
		t.Fatalf("got %v, want ErrNoDelivery", err)
	}
	st, ok := leech.svc.Finished(root)
	if !ok || st.Reason != "peers were found but none delivered a block for 2m0s" {
		t.Fatalf("Finished: %+v %v", st, ok)
	}
	seed := n.node("seed", Config{})
	if r := n.share(seed, data, 32<<10); !r.Equals(root) {
		t.Fatal("same data, different roots")
	}
	refuser.svc.Close()
	dl2, dest := leech.fetch(t, root)
	waitDone(t, dl2)
	checkFile(t, dest, data)
}
