package service

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// systemd is a systemd user unit, managed with `systemctl --user`.
type systemd struct {
	spec Spec
	dir  string // where user units live: ~/.config/systemd/user
	run  runner
}

// SystemdUnit renders the user unit that runs spec.
func SystemdUnit(spec Spec) string {
	args := append([]string{spec.Exe}, spec.Args()...)
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = systemdQuote(a)
	}
	return fmt.Sprintf(`[Unit]
Description=%s
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
ExecStart=%s
Restart=on-failure
RestartSec=5
KillSignal=SIGTERM
TimeoutStopSec=30

[Install]
WantedBy=default.target
`, systemdEscape(spec.Description()), strings.Join(quoted, " "))
}

// systemdEscape escapes the specifiers systemd expands in unit values.
func systemdEscape(s string) string {
	return strings.NewReplacer("%", "%%", "$", "$$", "\n", " ").Replace(s)
}

// systemdQuote quotes one ExecStart word: in double quotes, with
// backslashes and quotes escaped, so paths with spaces stay one word.
func systemdQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(systemdEscape(s)) + `"`
}

func (m *systemd) file() string { return filepath.Join(m.dir, Name+".service") }

func (m *systemd) systemctl(args ...string) error {
	args = append([]string{"--user"}, args...)
	out, err := m.run("systemctl", args...)
	if err != nil {
		return commandError(out, err, "systemctl", args...)
	}
	return nil
}

func (m *systemd) installed() bool {
	_, err := os.Stat(m.file())
	return err == nil
}

func (m *systemd) Install() error {
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		return fmt.Errorf("service install: %w", err)
	}
	if err := writeFileAtomic(m.file(), []byte(SystemdUnit(m.spec))); err != nil {
		return fmt.Errorf("service install: %w", err)
	}
	if err := m.systemctl("daemon-reload"); err != nil {
		return err
	}
	// Started now, and at every login.
	return m.systemctl("enable", "--now", Name+".service")
}

func (m *systemd) Uninstall() error {
	if !m.installed() {
		return ErrNotInstalled
	}
	// Stopping a unit that is not running succeeds.
	if err := m.systemctl("disable", "--now", Name+".service"); err != nil {
		return err
	}
	if err := os.Remove(m.file()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("service uninstall: %w", err)
	}
	return m.systemctl("daemon-reload")
}

func (m *systemd) Start() error {
	if !m.installed() {
		return ErrNotInstalled
	}
	return m.systemctl("start", Name+".service")
}

func (m *systemd) Stop() error {
	if !m.installed() {
		return ErrNotInstalled
	}
	return m.systemctl("stop", Name+".service")
}

func (m *systemd) Status() (Status, error) {
	st := Status{Installed: m.installed()}
	if !st.Installed {
		return st, nil
	}
	st.File = m.file()
	// is-active exits non-zero for anything but "active": its output is
	// the answer either way.
	out, _ := m.run("systemctl", "--user", "is-active", Name+".service")
	st.Detail = strings.TrimSpace(string(out))
	st.Running = st.Detail == "active"
	return st, nil
}

// writeFileAtomic replaces path with data through a rename.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
