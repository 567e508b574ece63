package node

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestLogFileRotatesBySize(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "logs", "myco.log")
	w, err := openLogFile(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	line := append(bytes.Repeat([]byte("x"), 1023), '\n')
	for range 2500 { // 2.5 MB through a 1 MB file
		if _, err := w.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Errorf("after 2.5 MB at 1 MB per file: %d files, want the log and 2 rotated ones", len(entries))
	}
	st, err := os.Stat(path)
	if err != nil || st.Size() > 1<<20 {
		t.Errorf("current log: %v, %v bytes", err, st.Size())
	}
}

func TestLogFileUnwritableFailsAtOnce(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openLogFile(filepath.Join(blocker, "myco.log"), 1); err == nil {
		t.Error("a log file under a regular file opened")
	}
}

func TestLogFilePathIsInsideTheRepo(t *testing.T) {
	r := &Repo{Path: filepath.FromSlash("/r"), Config: Config{LogFile: "myco.log"}}
	if got := r.LogFilePath(""); got != filepath.Join("/r", "myco.log") {
		t.Errorf("config log_file: %s", got)
	}
	abs := filepath.Join(t.TempDir(), "x.log")
	if got := r.LogFilePath(abs); got != abs {
		t.Errorf("--log-file: %s", got)
	}
	if got := (&Repo{Path: "/r"}).LogFilePath(""); got != "" {
		t.Errorf("no log file: %q", got)
	}
}
