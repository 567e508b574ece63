package main

import (
	"runtime"
	"testing"
)

// The service commands are checked without installing anything: with an
// empty user config directory there is no service, and status, start, stop
// and uninstall say so. internal/service tests the unit files.
func TestServiceCommandsWithoutAService(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the user unit directory is systemd's")
	}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	repo := initRepo(t)
	if r := myco(t, repo, "service", "status"); r.code != 0 || r.stdout != "not installed\n" {
		t.Errorf("service status: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	for _, sub := range []string{"start", "stop", "uninstall"} {
		r := myco(t, repo, "service", sub)
		if r.code == 0 {
			t.Errorf("service %s with no service: exit 0", sub)
			continue
		}
		assertOneLine(t, r.stderr, "the myco service is not installed")
	}
}
