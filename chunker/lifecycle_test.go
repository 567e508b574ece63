package chunker

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/ipfs/go-cid"
)

// shareFile writes data to dir/name, shares it into a fresh store under
// dir/src, and returns that store and the root.
func shareFile(t *testing.T, dir, name string, data []byte, p Params) (*Store, RootInfo) {
	t.Helper()
	src := openStore(t, filepath.Join(dir, "src"))
	t.Cleanup(func() { src.Close() })
	path := filepath.Join(dir, name)
	writeTestFile(t, path, data)
	r, err := src.AddPath(context.Background(), path, p)
	if err != nil {
		t.Fatal(err)
	}
	return src, r
}

// fetchAll fetches every node and leaf of f from src.
func fetchAll(t *testing.T, src *Store, f *Fetch) {
	t.Helper()
	fetchNodes(t, src, f)
	have := f.Have()
	fetchLeaves(t, src, f, func(i int) bool { return !have[i] })
}

func mustNotExist(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s exists (%v)", path, err)
	}
}

func mustHold(t *testing.T, path string, data []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("%s holds %d bytes, not the %d expected", path, len(got), len(data))
	}
}

func fetchesRegistered(s *Store) int {
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	return len(s.fetches)
}

// The data lands in the partial path and reaches the destination only
// when Finish has every leaf; an existing destination is refused unless
// Force; SetDest moves the target (persisted), not the partial data.
func TestFetchPartialFinishAndSetDest(t *testing.T) {
	dir := t.TempDir()
	data := testData(256*12+7, 3)
	src, r := shareFile(t, dir, "orig.bin", data, small)
	dst := openStore(t, filepath.Join(dir, "dst"))
	defer func() { dst.Close() }()

	dest := filepath.Join(dir, "out", "big.bin")
	f, err := dst.StartFetch(r.Cid, dest, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	part := filepath.Join(dir, "out", ".big.bin.myco-part")
	if f.Part() != part || f.Dest() != dest {
		t.Fatalf("part %s dest %s", f.Part(), f.Dest())
	}
	fetchNodes(t, src, f)
	fetchLeaves(t, src, f, func(i int) bool { return i != 5 })
	mustNotExist(t, dest)
	if st, err := os.Stat(part); err != nil || st.Size() != int64(len(data)) {
		t.Fatalf("partial file: %v", err)
	}
	if _, err := f.Finish(); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("early finish: %v", err)
	}
	mustNotExist(t, dest)
	fetchLeaves(t, src, f, func(i int) bool { return i == 5 })

	// Someone creates the destination meanwhile: refused, nothing lost.
	writeTestFile(t, dest, []byte("the user's own file"))
	if _, err := f.Finish(); !errors.Is(err, ErrDestExists) {
		t.Fatalf("finish onto an existing file: %v", err)
	}
	mustHold(t, dest, []byte("the user's own file"))
	mustHold(t, part, data)

	// The name is learned: SetDest, persisted across a restart.
	named := filepath.Join(dir, "out", "named.bin")
	if err := f.SetDest(named); err != nil {
		t.Fatal(err)
	}
	if f.Dest() != named || f.Part() != part {
		t.Fatalf("after SetDest: dest %s part %s", f.Dest(), f.Part())
	}
	dst.Close()
	dst = openStore(t, filepath.Join(dir, "dst"))
	inc, err := dst.Incoming()
	if err != nil || len(inc) != 1 || inc[0].Dest != named || inc[0].Part != part {
		t.Fatalf("incoming after restart: %+v %v", inc, err)
	}
	f, err = dst.StartFetch(r.Cid, "", FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Complete() || f.Dest() != named || f.Part() != part {
		t.Fatalf("resumed: complete %v dest %s part %s", f.Complete(), f.Dest(), f.Part())
	}
	info, err := f.Finish()
	if err != nil {
		t.Fatal(err)
	}
	mustHold(t, named, data)
	mustNotExist(t, part)
	mustHold(t, dest, []byte("the user's own file"))
	if info.Name != "named.bin" {
		t.Fatalf("name %q", info.Name)
	}
	if got, err := dst.Root(r.Cid); err != nil || got.Name != "named.bin" {
		t.Fatalf("root %+v %v", got, err)
	}
	if err := dst.CheckSources(r.Cid); err != nil {
		t.Fatalf("sources of the fetched root: %v", err)
	}
	if !bytes.Equal(cat(t, dst, r.Cid), data) {
		t.Fatal("cat of the fetched root differs")
	}
	if err := f.SetDest(dest); !errors.Is(err, ErrFetchClosed) {
		t.Fatalf("SetDest after Finish: %v", err)
	}
}

func TestFetchForceReplaces(t *testing.T) {
	dir := t.TempDir()
	data := testData(256*5, 4)
	src, r := shareFile(t, dir, "orig", data, small)
	dst := openStore(t, filepath.Join(dir, "dst"))
	defer func() { dst.Close() }()
	dest := filepath.Join(dir, "dest")
	writeTestFile(t, dest, []byte("old"))
	if _, err := dst.StartFetch(r.Cid, dest, FetchOptions{}); !errors.Is(err, ErrDestExists) {
		t.Fatalf("without force: %v", err)
	}
	if n := fetchesRegistered(dst); n != 0 {
		t.Fatalf("a refused StartFetch left %d fetches registered", n)
	}
	f, err := dst.StartFetch(r.Cid, dest, FetchOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	fetchAll(t, src, f)
	mustHold(t, dest, []byte("old")) // untouched until Finish
	// Force is recorded: a restart keeps it.
	dst.Close()
	dst = openStore(t, filepath.Join(dir, "dst"))
	if f, err = dst.StartFetch(r.Cid, "", FetchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Finish(); err != nil {
		t.Fatal(err)
	}
	mustHold(t, dest, data)

	// A directory in the way is replaced too.
	dirDest := filepath.Join(dir, "dirdest")
	writeTestFile(t, filepath.Join(dirDest, "inside"), []byte("x"))
	if err := dst.Remove(r.Cid); err != nil {
		t.Fatal(err)
	}
	f, err = dst.StartFetch(r.Cid, dirDest, FetchOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	fetchAll(t, src, f)
	if _, err := f.Finish(); err != nil {
		t.Fatal(err)
	}
	mustHold(t, dirDest, data)
}

// Abort removes the partial data (or keeps it), never the destination,
// and the next fetch of the root starts clean.
func TestFetchAbortAndRestartClean(t *testing.T) {
	dir := t.TempDir()
	data := testData(256*9+100, 5)
	src, r := shareFile(t, dir, "orig", data, small)
	dst := openStore(t, filepath.Join(dir, "dst"))
	defer dst.Close()
	dest := filepath.Join(dir, "dl", "file")

	for _, keep := range []bool{false, true} {
		f, err := dst.StartFetch(r.Cid, dest, FetchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if have, _ := f.Progress(); have != 0 {
			t.Fatalf("keep=%v: a new fetch starts with %d leaves", keep, have)
		}
		fetchNodes(t, src, f)
		fetchLeaves(t, src, f, func(i int) bool { return i%3 == 0 })
		if err := f.Abort(keep); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(f.Part()); keep != (err == nil) {
			t.Fatalf("keep=%v: partial data after abort: %v", keep, err)
		}
		mustNotExist(t, dest)
		if err := f.Abort(false); !errors.Is(err, ErrFetchClosed) {
			t.Fatalf("second abort: %v", err)
		}
		if err := f.SetDest(dest + "2"); !errors.Is(err, ErrFetchClosed) {
			t.Fatalf("SetDest after abort: %v", err)
		}
		if inc, _ := dst.Incoming(); len(inc) != 0 {
			t.Fatalf("incoming after abort: %v", inc)
		}
		if fetchesRegistered(dst) != 0 {
			t.Fatal("an aborted fetch is still registered")
		}
	}
	// After an abort that kept the partial data, a new fetch starts clean
	// (and forgets that data) and completes.
	f, err := dst.StartFetch(r.Cid, dest, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fetchNodes(t, src, f)
	if have, _ := f.Progress(); have != 0 {
		t.Fatalf("restart after abort has %d leaves", have)
	}
	fetchAll(t, src, f)
	if _, err := f.Finish(); err != nil {
		t.Fatal(err)
	}
	mustHold(t, dest, data)

	// Abort of a fetch forced over an existing destination leaves it be.
	other := filepath.Join(dir, "other")
	writeTestFile(t, other, []byte("mine"))
	if err := dst.Remove(r.Cid); err != nil {
		t.Fatal(err)
	}
	f, err = dst.StartFetch(r.Cid, other, FetchOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	fetchAll(t, src, f)
	if err := f.Abort(false); err != nil {
		t.Fatal(err)
	}
	mustHold(t, other, []byte("mine"))
}

// A crash between Finish's rename and its commit: at restart the partial
// data is gone and the destination holds the content; it is re-verified
// and committed. If the destination holds something else, it is left
// alone and the fetch starts afresh.
func TestFetchCrashBetweenRenameAndCommit(t *testing.T) {
	for _, foreign := range []bool{false, true} {
		name := map[bool]string{false: "content", true: "foreign"}[foreign]
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			data := testData(256*7+3, 6)
			src, r := shareFile(t, dir, "orig", data, small)
			dst := openStore(t, filepath.Join(dir, "dst"))
			crash := errors.New("crash")
			dst.hooks.afterRename = func() error { return crash }
			dest := filepath.Join(dir, "file")
			f, err := dst.StartFetch(r.Cid, dest, FetchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			fetchAll(t, src, f)
			if _, err := f.Finish(); !errors.Is(err, crash) {
				t.Fatalf("finish: %v", err)
			}
			mustHold(t, dest, data)
			mustNotExist(t, f.Part())
			dst.Close()
			if foreign {
				writeTestFile(t, dest, bytes.Repeat([]byte{'z'}, len(data)))
			}

			dst = openStore(t, filepath.Join(dir, "dst"))
			defer dst.Close()
			if _, err := dst.Root(r.Cid); !errors.Is(err, ErrNotKept) {
				t.Fatalf("root kept before the commit: %v", err)
			}
			f, err = dst.StartFetch(r.Cid, "", FetchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if foreign {
				if have, _ := f.Progress(); have != 0 {
					t.Fatalf("foreign destination counted %d leaves", have)
				}
				fetchAll(t, src, f)
				if _, err := f.Finish(); !errors.Is(err, ErrDestExists) {
					t.Fatalf("finish over a foreign destination: %v", err)
				}
				mustHold(t, dest, bytes.Repeat([]byte{'z'}, len(data)))
				mustHold(t, f.Part(), data)
				return
			}
			if !f.Complete() {
				t.Fatal("the renamed content was not recognised")
			}
			info, err := f.Finish()
			if err != nil {
				t.Fatal(err)
			}
			if info.Name != "file" || info.Size != uint64(len(data)) {
				t.Fatalf("info %+v", info)
			}
			mustHold(t, dest, data)
			if !bytes.Equal(cat(t, dst, r.Cid), data) {
				t.Fatal("cat differs")
			}
			if err := dst.CheckSources(r.Cid); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Writing a leaf into a full disk fails at once with ErrNoSpace; after an
// abort (which frees the partial data) a new fetch succeeds.
func TestFetchWriteNoSpace(t *testing.T) {
	dir := t.TempDir()
	data := testData(256*8, 7)
	src, r := shareFile(t, dir, "orig", data, small)
	dst := openStore(t, filepath.Join(dir, "dst"))
	defer dst.Close()
	var full atomic.Bool
	full.Store(true)
	dst.hooks.writeLeaf = func(path string, off int64) error {
		if full.Load() && off >= 3*256 {
			return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
		}
		return nil
	}
	dest := filepath.Join(dir, "out")
	f, err := dst.StartFetch(r.Cid, dest, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fetchNodes(t, src, f)
	l := f.Layout()
	for i := range 3 {
		b, _ := src.Get(context.Background(), l.Leaves[i].Cid)
		if err := f.PutLeaf(i, b); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := src.Get(context.Background(), l.Leaves[3].Cid)
	err = f.PutLeaf(3, b)
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("write into a full disk: %v", err)
	}
	if have, _ := f.Progress(); have != 3 {
		t.Fatalf("have %d after the failed write", have)
	}
	if err := f.Abort(false); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, f.Part())
	full.Store(false)
	f, err = dst.StartFetch(r.Cid, dest, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fetchAll(t, src, f)
	if _, err := f.Finish(); err != nil {
		t.Fatal(err)
	}
	mustHold(t, dest, data)
}

// A resumed fetch whose space cannot be reserved fails StartFetch with
// ErrNoSpace and leaves nothing registered; it can be retried, or dropped.
func TestFetchResumeNoSpaceLeavesNothingRegistered(t *testing.T) {
	dir := t.TempDir()
	data := testData(256*8, 8)
	src, r := shareFile(t, dir, "orig", data, small)
	dst := openStore(t, filepath.Join(dir, "dst"))
	dest := filepath.Join(dir, "out")
	f, err := dst.StartFetch(r.Cid, dest, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fetchNodes(t, src, f)
	dst.Close()
	// The partial file was lost (say, to a cleaner) and the disk is full.
	if err := os.Remove(f.Part()); err != nil {
		t.Fatal(err)
	}
	dst = openStore(t, filepath.Join(dir, "dst"))
	defer func() { dst.Close() }()
	var full atomic.Bool
	full.Store(true)
	dst.hooks.allocate = func(fh *os.File, n int64) error {
		if full.Load() {
			return &os.PathError{Op: "fallocate", Path: fh.Name(), Err: syscall.ENOSPC}
		}
		return allocate(fh, n)
	}
	if _, err := dst.StartFetch(r.Cid, "", FetchOptions{}); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("resume into a full disk: %v", err)
	}
	if n := fetchesRegistered(dst); n != 0 {
		t.Fatalf("failed StartFetch left %d fetches registered", n)
	}
	full.Store(false)
	f, err = dst.StartFetch(r.Cid, "", FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Abort(true); err != nil {
		t.Fatal(err)
	}

	// DropIncoming clears a recorded fetch that is not running.
	f, err = dst.StartFetch(r.Cid, dest, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fetchNodes(t, src, f)
	dst.Close()
	dst = openStore(t, filepath.Join(dir, "dst"))
	if err := dst.DropIncoming(r.Cid, false); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, f.Part())
	if inc, _ := dst.Incoming(); len(inc) != 0 {
		t.Fatalf("incoming after drop: %v", inc)
	}
	if err := dst.DropIncoming(r.Cid, false); !errors.Is(err, ErrNotIncoming) {
		t.Fatalf("second drop: %v", err)
	}
	// And a running one, as Abort would.
	f, err = dst.StartFetch(r.Cid, dest, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fetchNodes(t, src, f)
	if err := dst.DropIncoming(r.Cid, true); err != nil {
		t.Fatal(err)
	}
	if err := f.PutLeaf(0, nil); !errors.Is(err, ErrFetchClosed) {
		t.Fatalf("put after drop: %v", err)
	}
	if _, err := os.Stat(f.Part()); err != nil {
		t.Fatalf("partial data not kept: %v", err)
	}
	if inc, _ := dst.Incoming(); len(inc) != 0 || fetchesRegistered(dst) != 0 {
		t.Fatalf("incoming after dropping a running fetch: %v", inc)
	}
}

// StartFetch re-verifies the leaves of a resumed fetch without holding any
// store-wide lock: another root's StartFetch, Abort and Roots go on, and a
// second StartFetch of the same root gets the same *Fetch.
func TestStartFetchVerifiesWithoutStoreLock(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := openStore(t, filepath.Join(dir, "src"))
	defer src.Close()
	da, db := testData(256*10, 9), testData(256*6, 10)
	writeTestFile(t, filepath.Join(dir, "a"), da)
	writeTestFile(t, filepath.Join(dir, "b"), db)
	ra, err := src.AddPath(ctx, filepath.Join(dir, "a"), small)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := src.AddPath(ctx, filepath.Join(dir, "b"), small)
	if err != nil {
		t.Fatal(err)
	}
	dst := openStore(t, filepath.Join(dir, "dst"))
	f, err := dst.StartFetch(ra.Cid, filepath.Join(dir, "outa"), FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fetchNodes(t, src, f)
	fetchLeaves(t, src, f, func(i int) bool { return i < 5 })
	dst.Close()

	dst = openStore(t, filepath.Join(dir, "dst"))
	defer dst.Close()
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	dst.hooks.verifyOnDisk = func(root cid.Cid) {
		if root == ra.Cid && calls.Add(1) == 1 {
			close(entered)
			<-release
		}
	}
	type result struct {
		f   *Fetch
		err error
	}
	first, second := make(chan result, 1), make(chan result, 1)
	go func() {
		f, err := dst.StartFetch(ra.Cid, "", FetchOptions{})
		first <- result{f, err}
	}()
	<-entered
	go func() {
		f, err := dst.StartFetch(ra.Cid, "", FetchOptions{})
		second <- result{f, err}
	}()

	// A's verification is blocked; B starts, runs and aborts meanwhile.
	fb, err := dst.StartFetch(rb.Cid, filepath.Join(dir, "outb"), FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fetchAll(t, src, fb)
	if _, err := dst.Roots(); err != nil {
		t.Fatal(err)
	}
	if err := fb.Abort(false); err != nil {
		t.Fatal(err)
	}
	if inc, err := dst.Incoming(); err != nil || len(inc) != 1 {
		t.Fatalf("incoming while A verifies: %v %v", inc, err)
	}
	close(release)
	r1, r2 := <-first, <-second
	if r1.err != nil || r2.err != nil {
		t.Fatalf("StartFetch of A: %v, %v", r1.err, r2.err)
	}
	if r1.f != r2.f {
		t.Fatal("two StartFetch of the same root got different fetches")
	}
	if calls.Load() != 1 {
		t.Fatalf("A was verified %d times", calls.Load())
	}
	if have, _ := r1.f.Progress(); have != 5 {
		t.Fatalf("A resumed with %d leaves, want 5", have)
	}
	fetchAll(t, src, r1.f)
	if _, err := r1.f.Finish(); err != nil {
		t.Fatal(err)
	}
	mustHold(t, filepath.Join(dir, "outa"), da)
}

// When the first StartFetch of a root fails, a second one (waiting for it,
// or starting after it failed, as scheduling has it) fails the same way,
// and nothing stays registered.
func TestStartFetchSameRootFailureShared(t *testing.T) {
	dir := t.TempDir()
	data := testData(256*6, 22)
	src, r := shareFile(t, dir, "orig", data, small)
	dst := openStore(t, filepath.Join(dir, "dst"))
	f, err := dst.StartFetch(r.Cid, filepath.Join(dir, "out"), FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fetchNodes(t, src, f)
	fetchLeaves(t, src, f, func(i int) bool { return i < 2 })
	part := f.Part()
	dst.Close()
	if err := os.Truncate(part, 0); err != nil { // needs its space again
		t.Fatal(err)
	}

	dst = openStore(t, filepath.Join(dir, "dst"))
	defer dst.Close()
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	dst.hooks.allocate = func(fh *os.File, n int64) error {
		if calls.Add(1) == 1 {
			close(entered)
			<-release
		}
		return &os.PathError{Op: "fallocate", Path: fh.Name(), Err: syscall.ENOSPC}
	}
	errs := make(chan error, 2)
	go func() {
		_, err := dst.StartFetch(r.Cid, "", FetchOptions{})
		errs <- err
	}()
	<-entered
	go func() {
		_, err := dst.StartFetch(r.Cid, "", FetchOptions{})
		errs <- err
	}()
	close(release)
	for range 2 {
		if err := <-errs; !errors.Is(err, ErrNoSpace) {
			t.Fatalf("StartFetch: %v", err)
		}
	}
	if n := fetchesRegistered(dst); n != 0 {
		t.Fatalf("%d fetches registered", n)
	}
	if inc, _ := dst.Incoming(); len(inc) != 1 {
		t.Fatalf("the record of the resumed fetch is gone: %v", inc)
	}
}
