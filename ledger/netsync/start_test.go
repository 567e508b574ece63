package netsync

import (
	"errors"
	"testing"

	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
)

// TestStartJoinsWithoutTheLock: while Start joins and subscribes to the
// topics it waits for pubsub's event loop, and that loop asks
// misbehaviour() (the service's lock) for the score of a peer whose RPC
// it handles. Start held the lock meanwhile, and a daemon whose peers
// spoke first hung before it was ready; now the lock is free.
func TestStartJoinsWithoutTheLock(t *testing.T) {
	free := make(chan bool, 1)
	newNet(t, 1, netOpts{clock: newClock(afterFixture(t, 1)), cfg: func(_ int, c *Config) {
		c.beforeJoin = func(s *Service) {
			ok := s.mu.TryLock()
			if ok {
				s.mu.Unlock()
			}
			free <- ok
		}
	}})
	if !<-free {
		t.Fatal("Start held the service's lock while it joined pubsub's topics")
	}
}

// TestCloseWhileStarting: a Close that comes while Start joins the topics
// wins: Start stops what it started and says the service is closed.
func TestCloseWhileStarting(t *testing.T) {
	mn := mocknet.New()
	defer mn.Close()
	h, err := mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	clock := newClock(afterFixture(t, 1))
	chain := newTestChain(t, clock, nil)
	defer chain.Close()
	svc, err := New(h, chain, Config{Now: clock.Now, beforeJoin: func(s *Service) {
		if err := s.Close(); err != nil {
			t.Errorf("close while starting: %v", err)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after a Close while starting: %v, want ErrClosed", err)
	}
	if _, err := svc.running(); !errors.Is(err, ErrClosed) {
		t.Fatalf("running after: %v, want ErrClosed", err)
	}
	if err := svc.Start(); !errors.Is(err, ErrClosed) {
		t.Fatalf("a second Start: %v, want ErrClosed", err)
	}
}
