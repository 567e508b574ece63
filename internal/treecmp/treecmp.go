// Package treecmp compares directory trees on disk, for tests: the same
// files, with the same bytes, and no others.
package treecmp

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// Same fails t unless got holds exactly the regular files of want, each
// with the same bytes (folders of want must be folders in got).
func Same(t testing.TB, want, got string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		other := filepath.Join(got, rel)
		if d.IsDir() {
			if st, err := os.Stat(other); err != nil || !st.IsDir() {
				return fmt.Errorf("%s: not a folder in %s", rel, got)
			}
			return nil
		}
		a, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(other)
		if err != nil || !bytes.Equal(a, b) {
			return fmt.Errorf("%s differs (%v)", rel, err)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	m := 0
	filepath.WalkDir(got, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			m++
		}
		return nil
	})
	if m != n {
		t.Fatalf("%s holds %d files, %s %d", got, m, want, n)
	}
}
