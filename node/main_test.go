package node

import (
	"testing"

	"github.com/myco-p2p/myco/internal/leakcheck"
)

// A node and its API server start goroutines (the dashboard's bandwidth
// sampler among them); none may outlive Shutdown and Close.
func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }
