package node

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/myco-p2p/myco/chunker"
	"github.com/myco-p2p/myco/swarm"
)

func TestFetchErrorsSayWhatToDo(t *testing.T) {
	root, _ := cid.Decode("bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am")
	cases := []struct {
		err    error
		status int
		want   string
		is     error
	}{
		{fmt.Errorf("fetch: %w", swarm.ErrNoProviders), http.StatusNotFound, "no peer provides", swarm.ErrNoProviders},
		{fmt.Errorf("fetch: %w", swarm.ErrClosed), http.StatusServiceUnavailable, "the fetch will resume", errStoppedMidFetch},
		{fmt.Errorf("fetch: %w", swarm.ErrCancelled), http.StatusConflict, "cancelled", nil},
		{fmt.Errorf("fetch: %w", chunker.ErrDestExists), http.StatusBadRequest, "--force", chunker.ErrDestExists},
		{fmt.Errorf("write leaf: %w", syscall.ENOSPC), http.StatusInsufficientStorage, "no space left", syscall.ENOSPC},
	}
	for _, c := range cases {
		err := fetchError(root, c.err)
		var he *httpError
		if !errors.As(err, &he) || he.status != c.status {
			t.Errorf("fetchError(%v) = %v; want status %d", c.err, err, c.status)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("fetchError(%v) = %q; want it to say %q", c.err, err, c.want)
		}
		if c.is != nil && !errors.Is(err, c.is) {
			t.Errorf("fetchError(%v) does not wrap %v", c.err, c.is)
		}
	}
}

func TestTimeoutReasonSaysHowFar(t *testing.T) {
	root, _ := cid.Decode("bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am")
	if status, err := timeoutReason(swarm.SessionStats{Root: root, State: "finding peers"}); !errors.Is(err, swarm.ErrNoProviders) || status != http.StatusNotFound {
		t.Errorf("no peer and nothing received: %d %v; want 404 and ErrNoProviders", status, err)
	}
	_, err := timeoutReason(swarm.SessionStats{Root: root, State: "downloading", Peers: 2, Have: 3, Leaves: 10})
	for _, w := range []string{"timed out", "3/10 leaves", "2 peer(s)", "partial data was removed"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("timeoutReason = %q; want it to say %q", err, w)
		}
	}
}

func TestActiveStates(t *testing.T) {
	for state, want := range map[string]bool{"queued": true, "finding peers": true, "downloading": true, "verifying": true,
		"done": false, "failed": false, "cancelled": false, "seeding": false, "broken": false} {
		if got := (SessionJSON{State: state}).Active(); got != want {
			t.Errorf("Active(%q) = %v; want %v", state, got, want)
		}
	}
}
