package chunker

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// A fetch that does not fit fails when its layout becomes known (the last
// node arrives), before any leaf is written: fallocate reserves the whole
// file. The test mounts a small tmpfs where it can (as root); elsewhere it
// stands the full disk in through the allocate hook, so it always runs.
// After space is freed, the fetch of the same root into the same place
// succeeds.
func TestFetchReserveNoSpace(t *testing.T) {
	dir := t.TempDir()
	p := Params{ChunkSize: 64 << 10, MaxLinks: 4}
	data := testData(1<<20, 11) // 16 leaves, two levels of nodes
	src, r := shareFile(t, dir, "orig", data, p)

	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	var full atomic.Bool // used where tmpfs cannot be mounted
	var grow func()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=256k"); err == nil {
		t.Log("on a 256 KiB tmpfs")
		t.Cleanup(func() {
			if err := unix.Unmount(mnt, 0); err != nil {
				t.Errorf("unmount %s: %v", mnt, err)
				unix.Unmount(mnt, unix.MNT_DETACH)
			}
		})
		grow = func() {
			if err := unix.Mount("tmpfs", mnt, "tmpfs", unix.MS_REMOUNT, "size=4m"); err != nil {
				t.Fatal(err)
			}
		}
	} else {
		t.Logf("cannot mount a tmpfs (%v): the allocate hook reports a full disk", err)
		full.Store(true)
		grow = func() { full.Store(false) }
	}
	dst := openStore(t, filepath.Join(dir, "dst"))
	t.Cleanup(func() { dst.Close() }) // before the unmount
	dst.hooks.allocate = func(fh *os.File, n int64) error {
		if full.Load() {
			return &os.PathError{Op: "fallocate", Path: fh.Name(), Err: syscall.ENOSPC}
		}
		return reserve(fh, n)
	}

	dest := filepath.Join(mnt, "big.bin")
	f, err := dst.StartFetch(r.Cid, dest, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var perr error
	for rounds := 0; len(f.Missing()) > 0 && perr == nil && rounds < 10; rounds++ {
		for _, c := range f.Missing() {
			b, err := src.Get(t.Context(), c)
			if err != nil {
				t.Fatal(err)
			}
			if perr = f.PutNode(c, b); perr != nil {
				break
			}
		}
	}
	if !errors.Is(perr, ErrNoSpace) || !strings.Contains(perr.Error(), "no space left on device") {
		t.Fatalf("the last node of a fetch too big for the disk: %v", perr)
	}
	t.Logf("the fetch fails with: %v", perr)
	if f.Layout() != nil || len(f.Missing()) == 0 {
		t.Fatal("a fetch that could not reserve its space reports a layout")
	}
	if err := f.Abort(false); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, f.Part())
	mustNotExist(t, dest)
	if n := fetchesRegistered(dst); n != 0 {
		t.Fatalf("%d fetches registered after the abort", n)
	}

	grow()
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
