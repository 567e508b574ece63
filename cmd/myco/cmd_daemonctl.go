package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/myco-p2p/myco/node"
)

// Commands that control the running daemon itself: stop it, and read or
// change its logging.

// shutdownWait bounds how long `myco shutdown` waits for the daemon to be
// gone (its own shutdown takes at most 5 s).
const shutdownWait = 30 * time.Second

func cmdShutdown() *command {
	return &command{
		name:    "shutdown",
		summary: "stop the running daemon, as Ctrl-C would, and wait until it has stopped",
		run: func(e *env, _ []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			if err := c.Shutdown(e.ctx); err != nil {
				return err
			}
			// The daemon removes its api file once its node is closed.
			api := filepath.Join(e.repo, node.APIFile)
			deadline := time.Now().Add(shutdownWait)
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				if _, err := os.Stat(api); errors.Is(err, fs.ErrNotExist) {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("the daemon accepted to stop but is still running after %v", shutdownWait)
				}
				select {
				case <-e.ctx.Done():
					return e.ctx.Err()
				case <-tick.C:
				}
			}
			if e.json {
				return e.printJSON(map[string]bool{"stopped": true})
			}
			fmt.Fprintln(e.stdout, "daemon stopped")
			return nil
		},
	}
}

func cmdLogLevel() *command {
	return &command{
		name:    "log level",
		args:    "[LEVEL]",
		summary: "show or change the running daemon's log level (debug, info, warn, error) until it stops; config.json is not changed",
		maxArgs: 1,
		run: func(e *env, args []string) error {
			if len(args) == 1 {
				if _, err := node.ParseLogLevel(args[0]); err != nil {
					return err
				}
			}
			return show(e, func(c *node.Client) (node.LogInfo, error) {
				if len(args) == 0 {
					return c.LogInfo(e.ctx)
				}
				return c.SetLogLevel(e.ctx, args[0])
			}, func(li node.LogInfo) {
				if len(args) == 0 {
					fmt.Fprintln(e.stdout, li.Level)
					return
				}
				fmt.Fprintf(e.stdout, "log level is now %s until the daemon stops ('myco config set log_level %s' keeps it)\n", li.Level, li.Level)
			})
		},
	}
}

func cmdLogTail() *command {
	var lines *int
	var follow *bool
	return &command{
		name:    "log tail",
		summary: "print the end of the daemon's log file (the running daemon's, else config log_file)",
		flags: func(fs *flag.FlagSet) {
			lines = fs.Int("n", 20, "how many `lines` to print")
			follow = fs.Bool("follow", false, "keep printing lines as they are written, until interrupted")
		},
		run: func(e *env, _ []string) error {
			path, err := logFilePath(e)
			if err != nil {
				return err
			}
			if *lines < 0 {
				return usageError{fmt.Sprintf("log tail: --n %d: want 0 or more", *lines)}
			}
			f, err := os.Open(path)
			if err != nil {
				return fmt.Errorf("log tail: %w", err)
			}
			defer f.Close()
			last, err := lastLines(f, *lines)
			if err != nil {
				return fmt.Errorf("log tail %s: %w", path, err)
			}
			for _, l := range last {
				fmt.Fprintln(e.stdout, l)
			}
			if !*follow {
				return nil
			}
			return followFile(e, f)
		},
	}
}

// logFilePath is where the daemon logs: the running daemon says; without
// one, the config's log_file.
func logFilePath(e *env) (string, error) {
	if c, err := e.client(); err == nil {
		if li, err := c.LogInfo(e.ctx); err == nil {
			if li.File == "" {
				return "", errors.New("the running daemon logs to its stderr, not to a file: start it with --log-file PATH, or 'myco config set log_file myco.log' and restart it")
			}
			return li.File, nil
		}
	}
	repo, err := node.OpenRepo(e.repo)
	if err != nil {
		return "", err
	}
	p := repo.LogFilePath("")
	if p == "" {
		return "", errors.New("no log file is set: the daemon logs to its stderr; 'myco config set log_file myco.log' makes it log to a file in the repo")
	}
	return p, nil
}

// lastLines returns the last n lines of r, keeping at most n in memory.
func lastLines(r io.Reader, n int) ([]string, error) {
	if n == 0 {
		_, err := io.Copy(io.Discard, r)
		return nil, err
	}
	ring := make([]string, 0, n)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if len(ring) == n {
			copy(ring, ring[1:])
			ring = ring[:n-1]
		}
		ring = append(ring, sc.Text())
	}
	return ring, sc.Err()
}

// followFile copies what is appended to f to stdout until the command is
// interrupted. A rotation (the file renamed and a new one started) is
// followed to the new file. It closes f.
func followFile(e *env, f *os.File) error {
	defer func() { f.Close() }()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := io.Copy(e.stdout, f); err != nil {
			return err
		}
		select {
		case <-e.ctx.Done():
			return nil
		case <-tick.C:
		}
		open, err := f.Stat()
		if err != nil {
			return err
		}
		named, err := os.Stat(f.Name())
		if err != nil || os.SameFile(open, named) {
			continue // not rotated (or the new file is not there yet)
		}
		if _, err := io.Copy(e.stdout, f); err != nil { // the rest of the old file
			return err
		}
		next, err := os.Open(f.Name())
		if err != nil {
			return err
		}
		f.Close()
		f = next
	}
}
