package service

import (
	"os"
	"os/exec"
	"path/filepath"
)

// New returns the manager of this system: launchd, for the logged-in user.
func New(spec Spec) (Manager, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil, err
	}
	return &launchd{spec: spec, dir: filepath.Join(home, "Library", "LaunchAgents"), uid: os.Getuid(), run: execRunner}, nil
}

func execRunner(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}
