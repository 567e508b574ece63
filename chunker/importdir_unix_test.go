//go:build unix

package chunker

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A directory import that fails part way (a file that cannot be imported
// among many on the workers, or an unsupported file in a folder walked
// meanwhile) returns that error, stops its workers and keeps nothing.
func TestImportDirFailureRollsBack(t *testing.T) {
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	for i := range 300 {
		writeTestFile(t, filepath.Join(tree, fmt.Sprintf("d%d", i/50), fmt.Sprintf("f%03d", i)), testData(100+i, uint64(i)))
	}
	boom := errors.New("disk on fire")
	m := newMemSink()
	mem := m.fileImporter(small)
	_, err := ImportDir(context.Background(), tree, small, func(ctx context.Context, path string) (Entry, error) {
		if filepath.Base(path) == "f123" {
			return Entry{}, boom
		}
		return mem(ctx, path)
	}, m)
	if !errors.Is(err, boom) {
		t.Fatalf("import with a failing file: %v", err)
	}

	if err := syscall.Mkfifo(filepath.Join(tree, "d3", "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, filepath.Join(dir, "store"))
	defer s.Close()
	if _, err := s.AddPath(context.Background(), tree, small); err == nil || !strings.Contains(err.Error(), "unsupported file type") {
		t.Fatalf("import with a fifo: %v", err)
	}
	storeIsEmpty(t, s)
}
