package service

import (
	"os"
	"os/exec"
	"path/filepath"
)

// New returns the manager of this system: systemd's user instance.
func New(spec Spec) (Manager, error) {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, err
		}
		dir = filepath.Join(home, ".config")
	}
	return &systemd{spec: spec, dir: filepath.Join(dir, "systemd", "user"), run: execRunner}, nil
}

func execRunner(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}
