package swarm

import (
	"testing"

	"github.com/myco-p2p/myco/internal/leakcheck"
)

// The session layer starts goroutines per service, stream and download;
// none may outlive Close.
func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }
