package service

import (
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var spacey = Spec{
	Exe:     "/home/jo smith/bin/myco",
	Repo:    "/home/jo smith/.myco 100%",
	LogFile: "/home/jo smith/.myco 100%/myco.log",
}

func TestSystemdUnit(t *testing.T) {
	got := SystemdUnit(spacey)
	for _, want := range []string{
		"[Unit]\nDescription=myco peer-to-peer node (repo /home/jo smith/.myco 100%%)\n",
		`ExecStart="/home/jo smith/bin/myco" "--repo" "/home/jo smith/.myco 100%%" "daemon" "--log-file" "/home/jo smith/.myco 100%%/myco.log"` + "\n",
		"Restart=on-failure\n",
		"KillSignal=SIGTERM\n",
		"[Install]\nWantedBy=default.target\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("unit lacks %q:\n%s", want, got)
		}
	}
	if q := systemdQuote(`a"b\c$`); q != `"a\"b\\c$$"` {
		t.Errorf("systemdQuote = %s", q)
	}
}

func TestLaunchdPlist(t *testing.T) {
	spec := spacey
	spec.Repo = "/Users/jo/My <Repo> & Co"
	spec.LogFile = spec.Repo + "/myco.log"
	got := LaunchdPlist(spec)
	// It is well-formed XML whose ProgramArguments are the daemon's, in
	// order, escaped and read back intact.
	var doc struct {
		Dict struct {
			Keys    []string `xml:"key"`
			Strings []string `xml:"string"`
			Array   struct {
				Strings []string `xml:"string"`
			} `xml:"array"`
		} `xml:"dict"`
	}
	if err := xml.Unmarshal([]byte(got), &doc); err != nil {
		t.Fatalf("plist is not XML: %v\n%s", err, got)
	}
	want := append([]string{spec.Exe}, spec.Args()...)
	if !reflect.DeepEqual(doc.Dict.Array.Strings, want) {
		t.Errorf("ProgramArguments = %q; want %q", doc.Dict.Array.Strings, want)
	}
	if !reflect.DeepEqual(doc.Dict.Keys, []string{"Label", "ProgramArguments", "RunAtLoad", "KeepAlive", "ProcessType", "StandardErrorPath"}) {
		t.Errorf("keys = %q", doc.Dict.Keys)
	}
	if !reflect.DeepEqual(doc.Dict.Strings, []string{LaunchdLabel, "Background", spec.Repo + "/myco.stderr.log"}) {
		t.Errorf("strings = %q", doc.Dict.Strings)
	}
	for _, s := range []string{"<true/>", "<key>SuccessfulExit</key>\n\t\t<false/>", "&lt;Repo&gt; &amp; Co"} {
		if !strings.Contains(got, s) {
			t.Errorf("plist lacks %q:\n%s", s, got)
		}
	}
}

func TestWindowsCommandLine(t *testing.T) {
	spec := Spec{
		Exe:     `C:\Program Files\myco\myco.exe`,
		Repo:    `C:\Users\Jo Smith\.myco`,
		LogFile: `C:\Users\Jo Smith\.myco\myco.log`,
	}
	want := `"C:\Program Files\myco\myco.exe" --repo "C:\Users\Jo Smith\.myco" daemon --log-file "C:\Users\Jo Smith\.myco\myco.log"`
	if got := WindowsCommandLine(spec); got != want {
		t.Errorf("WindowsCommandLine =\n%s\nwant\n%s", got, want)
	}
	// The rules of syscall.EscapeArg.
	for in, want := range map[string]string{
		`C:\plain\path`:      `C:\plain\path`,
		`C:\dir with space\`: `"C:\dir with space\\"`,
		`say "hi"`:           `"say \"hi\""`,
		`a\"b`:               `"a\\\"b"`,
		"":                   `""`,
	} {
		if got := windowsQuote(in); got != want {
			t.Errorf("windowsQuote(%q) = %s; want %s", in, got, want)
		}
	}
}

// fakeRunner records the commands a manager runs and answers from a table.
type fakeRunner struct {
	calls   []string
	answers map[string]string // command line -> output; absent: success, no output
	fail    map[string]bool
}

func (f *fakeRunner) run(name string, args ...string) ([]byte, error) {
	line := strings.Join(append([]string{name}, args...), " ")
	f.calls = append(f.calls, line)
	if f.fail[line] {
		return []byte(f.answers[line]), errors.New("exit status 1")
	}
	return []byte(f.answers[line]), nil
}

func TestSystemdManager(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "systemd", "user")
	f := &fakeRunner{answers: map[string]string{"systemctl --user is-active myco.service": "active\n"}}
	m := &systemd{spec: spacey, dir: dir, run: f.run}

	if st, err := m.Status(); err != nil || st.Installed {
		t.Fatalf("status before install: %+v, %v", st, err)
	}
	if err := m.Start(); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("start before install: %v", err)
	}
	if err := m.Install(); err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile(filepath.Join(dir, "myco.service"))
	if err != nil || string(unit) != SystemdUnit(spacey) {
		t.Errorf("installed unit: %v\n%s", err, unit)
	}
	if st, err := m.Status(); err != nil || !st.Installed || !st.Running || st.String() != "installed, running" {
		t.Errorf("status: %+v, %v", st, err)
	}
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := m.Uninstall(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "myco.service")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unit after uninstall: %v", err)
	}
	want := []string{
		"systemctl --user daemon-reload",
		"systemctl --user enable --now myco.service",
		"systemctl --user is-active myco.service",
		"systemctl --user stop myco.service",
		"systemctl --user disable --now myco.service",
		"systemctl --user daemon-reload",
	}
	if !reflect.DeepEqual(f.calls, want) {
		t.Errorf("commands:\n%s\nwant\n%s", strings.Join(f.calls, "\n"), strings.Join(want, "\n"))
	}

	// A failing systemctl is reported with what it printed.
	f.fail = map[string]bool{"systemctl --user daemon-reload": true}
	f.answers["systemctl --user daemon-reload"] = "Failed to connect to bus: No medium found\n"
	err = m.Install()
	if err == nil || !strings.Contains(err.Error(), "systemctl --user daemon-reload: exit status 1: Failed to connect to bus") {
		t.Errorf("install with no user bus: %v", err)
	}
}

func TestLaunchdManager(t *testing.T) {
	dir := t.TempDir()
	target := "gui/501/" + LaunchdLabel
	f := &fakeRunner{
		answers: map[string]string{"launchctl print " + target: "gui/501/io.myco.daemon = {\n\tstate = running\n\tpid = 42\n}\n"},
		fail:    map[string]bool{"launchctl print " + target: true},
	}
	m := &launchd{spec: spacey, dir: dir, uid: 501, run: f.run}
	if err := m.Install(); err != nil {
		t.Fatal(err)
	}
	plist, err := os.ReadFile(filepath.Join(dir, LaunchdLabel+".plist"))
	if err != nil || string(plist) != LaunchdPlist(spacey) {
		t.Errorf("installed plist: %v", err)
	}
	delete(f.fail, "launchctl print "+target) // loaded now
	if st, err := m.Status(); err != nil || !st.Running || st.Detail != "running" {
		t.Errorf("status: %+v, %v", st, err)
	}
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := m.Uninstall(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"launchctl print " + target,
		"launchctl bootstrap gui/501 " + filepath.Join(dir, LaunchdLabel+".plist"),
		"launchctl print " + target,
		"launchctl kill SIGTERM " + target,
		"launchctl print " + target,
		"launchctl bootout " + target,
	}
	if !reflect.DeepEqual(f.calls, want) {
		t.Errorf("commands:\n%s\nwant\n%s", strings.Join(f.calls, "\n"), strings.Join(want, "\n"))
	}
}
