package node

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gopkg.in/natefinch/lumberjack.v2"
)

// The daemon's log goes to stderr, or with --log-file or config log_file
// to a file rotated by size: at LogFileMaxMB megabytes it is renamed with
// a timestamp and a new one started; the LogFileBackups newest old files
// are kept. A relative path is inside the repo.

// Log file rotation.
const (
	LogFileMaxMB   = 10
	LogFileBackups = 5
)

// DefaultLogFile is the log file of an installed service, in the repo.
const DefaultLogFile = "myco.log"

// LogFilePath resolves where the daemon logs: the flag when given, else
// the config's log_file; "" means stderr. A relative path is taken inside
// the repo.
func (r *Repo) LogFilePath(flag string) string {
	p := flag
	if p == "" {
		p = r.Config.LogFile
	}
	if p == "" {
		return ""
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(r.Path, p)
	}
	return p
}

// openLogFile opens path for the daemon's log, rotated at maxMB megabytes.
// It fails at once when the file cannot be written, rather than at the
// first log line.
func openLogFile(path string, maxMB int) (io.WriteCloser, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("log file %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	f.Close()
	return &lumberjack.Logger{Filename: path, MaxSize: maxMB, MaxBackups: LogFileBackups}, nil
}
