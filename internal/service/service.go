// Package service installs myco's daemon as a service of the current user
// and controls it: a systemd user unit on Linux, a launchd agent on macOS,
// a Windows service. It owns the files it writes (the unit, the plist) and
// the service manager commands it runs; it does not own the daemon, which
// the service starts as `myco --repo REPO daemon --log-file LOG`.
//
// Decisions where the issue is silent:
//   - One service per machine user, named "myco" (launchd label
//     io.myco.daemon), for the repo given at install; installing again
//     replaces it (a different repo is a new install).
//   - The service logs to a file in the repo (myco.log, rotated by the
//     daemon) and is restarted by the manager when it fails, not when it
//     is stopped.
//   - Unit files are rendered by this package rather than by a general
//     service library, so their content is tested without installing
//     anything; Windows uses golang.org/x/sys/windows/svc directly (the
//     module is already a dependency). A Windows service runs as
//     LocalSystem (a service for one user needs that user's password),
//     and installing one needs an administrator shell.
//   - On a system with none of these, every command says so in one line.
package service

import (
	"errors"
	"fmt"
	"strings"
)

// Name is the service's name (systemd unit myco.service, Windows service
// myco).
const Name = "myco"

// LaunchdLabel is the launchd agent's label.
const LaunchdLabel = "io.myco.daemon"

// ErrUnsupported is returned on a system with no service manager this
// package knows.
var ErrUnsupported = errors.New("installing a service is not supported on this system: run 'myco daemon' from your system's start-up programs instead")

// ErrNotInstalled is returned by start, stop and uninstall when there is no
// service.
var ErrNotInstalled = errors.New("the myco service is not installed (install it with 'myco service install')")

// Spec is what the service runs.
type Spec struct {
	Exe     string // absolute path of the myco binary
	Repo    string // absolute path of the repo
	LogFile string // absolute path of the daemon's log file
}

// Args are the daemon's arguments, after the executable.
func (s Spec) Args() []string {
	return []string{"--repo", s.Repo, "daemon", "--log-file", s.LogFile}
}

// Description is the one line managers show.
func (s Spec) Description() string {
	return "myco peer-to-peer node (repo " + s.Repo + ")"
}

// Status is what `myco service status` reports.
type Status struct {
	Installed bool   `json:"installed"`
	Running   bool   `json:"running"`
	File      string `json:"file,omitempty"` // the unit or plist, where there is one
	Detail    string `json:"detail,omitempty"`
}

func (st Status) String() string {
	switch {
	case !st.Installed:
		return "not installed"
	case st.Running:
		return "installed, running"
	}
	return "installed, not running"
}

// Manager installs and controls the service.
type Manager interface {
	Install() error
	Uninstall() error
	Start() error
	Stop() error
	Status() (Status, error)
}

// runner runs a service manager's command and returns its combined output.
type runner func(name string, args ...string) ([]byte, error)

// commandError says which manager command failed and what it printed.
func commandError(out []byte, err error, name string, args ...string) error {
	msg := strings.Join(strings.Fields(string(out)), " ")
	if msg == "" {
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
}
