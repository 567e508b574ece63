package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestShardedFolderBetweenDaemons shares a folder big enough to be a HAMT
// (5,000 files) on one daemon; another fetches it whole, lists it and
// cats a file inside it by path; a third cats one file by path, which
// fetches the root through the swarm first.
func TestShardedFolderBetweenDaemons(t *testing.T) {
	seeder, leecher, third := initRepo(t), initRepo(t), initRepo(t)
	startDaemon(t, seeder)
	startDaemon(t, leecher)
	startDaemon(t, third)
	for _, r := range []string{leecher, third} {
		if res := myco(t, r, "connect", getID(t, seeder).Addrs[0]); res.code != 0 {
			t.Fatalf("connect: %s", res.stderr)
		}
	}
	dir := t.TempDir()
	album := filepath.Join(dir, "album")
	big := filepath.Join(album, "photos")
	if err := os.MkdirAll(big, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(album, "index.txt"), []byte("photos/\n"), 0o644)
	for i := range 5000 {
		os.WriteFile(filepath.Join(big, fmt.Sprintf("IMG_%04d.jpg", i)), fmt.Appendf(nil, "photo %d\n", i), 0o644)
	}
	r := myco(t, seeder, "share", album)
	if r.code != 0 {
		t.Fatalf("share of a big folder: %s", r.stderr)
	}
	root := strings.TrimSpace(r.stdout)
	if r := myco(t, seeder, "cat", root+"/photos/IMG_4321.jpg"); r.code != 0 || r.stdout != "photo 4321\n" {
		t.Fatalf("cat by path on the seeder: %q %s", r.stdout, r.stderr)
	}

	got := t.TempDir()
	if r := mycoIn(t, leecher, got, "fetch", root); r.code != 0 {
		t.Fatalf("fetch of a sharded folder: %s", r.stderr)
	}
	ents, _ := os.ReadDir(filepath.Join(got, "album", "photos"))
	if len(ents) != 5000 {
		t.Fatalf("fetched folder holds %d files, want 5000", len(ents))
	}
	for _, i := range []int{0, 1234, 4999} {
		name := fmt.Sprintf("IMG_%04d.jpg", i)
		if b, err := os.ReadFile(filepath.Join(got, "album", "photos", name)); err != nil || string(b) != fmt.Sprintf("photo %d\n", i) {
			t.Fatalf("%s: %q %v", name, b, err)
		}
	}
	r = myco(t, leecher, "ls", root+"/photos")
	if r.code != 0 || strings.Count(r.stdout, "\n") != 5000 || !strings.Contains(r.stdout, "IMG_0007.jpg") {
		t.Fatalf("ls of the sharded folder: %d lines, %s", strings.Count(r.stdout, "\n"), r.stderr)
	}
	if r := myco(t, leecher, "ls", root); r.code != 0 || !strings.Contains(r.stdout, "photos/") {
		t.Fatalf("ls of the root: %q %s", r.stdout, r.stderr)
	}
	if r := myco(t, leecher, "cat", root+"/photos/IMG_0042.jpg"); r.code != 0 || r.stdout != "photo 42\n" {
		t.Fatalf("cat by path on the leecher: %q %s", r.stdout, r.stderr)
	}
	r = myco(t, leecher, "cat", root+"/photos/nope.jpg")
	assertOneLine(t, r.stderr, "no such entry")
	if r.code == 0 {
		t.Fatal("cat of a missing name exited 0")
	}
	r = myco(t, leecher, "cat", root+"/photos")
	assertOneLine(t, r.stderr, "is a directory")

	// fetch of a path: the third node fetches the root through the swarm,
	// then writes the one file, or the one folder, the path names.
	got3 := t.TempDir()
	if r := mycoIn(t, third, got3, "fetch", root+"/photos/IMG_0042.jpg"); r.code != 0 {
		t.Fatalf("fetch of a file by path: %s", r.stderr)
	}
	if b, err := os.ReadFile(filepath.Join(got3, "IMG_0042.jpg")); err != nil || string(b) != "photo 42\n" {
		t.Fatalf("fetched by path: %q %v", b, err)
	}
	if r := mycoIn(t, third, got3, "fetch", root+"/photos"); r.code != 0 {
		t.Fatalf("fetch of a sharded folder by path: %s", r.stderr)
	}
	if ents, _ := os.ReadDir(filepath.Join(got3, "photos")); len(ents) != 5000 {
		t.Fatalf("folder fetched by path holds %d files", len(ents))
	}
}
