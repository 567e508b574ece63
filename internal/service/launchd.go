package service

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// launchd is a launchd agent of the logged-in user, managed with
// launchctl in the gui/UID domain.
type launchd struct {
	spec Spec
	dir  string // ~/Library/LaunchAgents
	uid  int
	run  runner
}

// LaunchdPlist renders the agent that runs spec: started at login and
// restarted when it fails (not when it exits cleanly after a stop). What
// the daemon prints before its log file is open goes to myco.stderr.log
// beside it.
func LaunchdPlist(spec Spec) string {
	var b bytes.Buffer
	str := func(indent, s string) {
		b.WriteString(indent + "<string>")
		xml.EscapeText(&b, []byte(s))
		b.WriteString("</string>\n")
	}
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>` + LaunchdLabel + `</string>
	<key>ProgramArguments</key>
	<array>
`)
	str("\t\t", spec.Exe)
	for _, a := range spec.Args() {
		str("\t\t", a)
	}
	b.WriteString(`	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<dict>
		<key>SuccessfulExit</key>
		<false/>
	</dict>
	<key>ProcessType</key>
	<string>Background</string>
	<key>StandardErrorPath</key>
`)
	str("\t", filepath.Join(filepath.Dir(spec.LogFile), "myco.stderr.log"))
	b.WriteString("</dict>\n</plist>\n")
	return b.String()
}

func (m *launchd) file() string { return filepath.Join(m.dir, LaunchdLabel+".plist") }

func (m *launchd) target() string { return "gui/" + strconv.Itoa(m.uid) + "/" + LaunchdLabel }

func (m *launchd) launchctl(args ...string) error {
	out, err := m.run("launchctl", args...)
	if err != nil {
		return commandError(out, err, "launchctl", args...)
	}
	return nil
}

func (m *launchd) installed() bool {
	_, err := os.Stat(m.file())
	return err == nil
}

func (m *launchd) loaded() bool {
	_, err := m.run("launchctl", "print", m.target())
	return err == nil
}

func (m *launchd) Install() error {
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		return fmt.Errorf("service install: %w", err)
	}
	if m.loaded() { // installing again replaces the agent
		if err := m.launchctl("bootout", m.target()); err != nil {
			return err
		}
	}
	if err := writeFileAtomic(m.file(), []byte(LaunchdPlist(m.spec))); err != nil {
		return fmt.Errorf("service install: %w", err)
	}
	// Loading the agent starts it (RunAtLoad), and at every login.
	return m.launchctl("bootstrap", "gui/"+strconv.Itoa(m.uid), m.file())
}

func (m *launchd) Uninstall() error {
	if !m.installed() {
		return ErrNotInstalled
	}
	if m.loaded() {
		if err := m.launchctl("bootout", m.target()); err != nil {
			return err
		}
	}
	if err := os.Remove(m.file()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("service uninstall: %w", err)
	}
	return nil
}

func (m *launchd) Start() error {
	if !m.installed() {
		return ErrNotInstalled
	}
	if !m.loaded() {
		return m.launchctl("bootstrap", "gui/"+strconv.Itoa(m.uid), m.file())
	}
	return m.launchctl("kickstart", m.target())
}

func (m *launchd) Stop() error {
	if !m.installed() {
		return ErrNotInstalled
	}
	// SIGTERM: the daemon exits 0, which KeepAlive does not restart.
	return m.launchctl("kill", "SIGTERM", m.target())
}

func (m *launchd) Status() (Status, error) {
	st := Status{Installed: m.installed()}
	if !st.Installed {
		return st, nil
	}
	st.File = m.file()
	out, err := m.run("launchctl", "print", m.target())
	if err != nil {
		st.Detail = "not loaded"
		return st, nil
	}
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "state = "); ok {
			st.Detail = v
			st.Running = v == "running"
			break
		}
	}
	return st, nil
}
