package netsync

import (
	"context"
	"sync"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// meshDegree is GossipSub's target mesh degree (D).
const meshDegree = 6

// meshTracer follows which peers are in our GossipSub mesh for each of our
// topics: only mesh peers relay what others publish, so a block published
// before the mesh has formed reaches our direct neighbours only.
type meshTracer struct {
	signal // poked on every change

	mu    sync.Mutex
	peers map[string]map[peer.ID]struct{} // topic -> mesh peers
}

// signal wakes the goroutines waiting for a condition whenever what it
// depends on may have changed. The zero value is ready to use.
type signal struct {
	mu sync.Mutex
	ch chan struct{} // closed at the next poke
}

// poke wakes every current waiter.
func (s *signal) poke() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// wait blocks until done holds, re-checking it after every poke.
func (s *signal) wait(ctx context.Context, done func() bool) error {
	for {
		s.mu.Lock()
		if s.ch == nil {
			s.ch = make(chan struct{})
		}
		ch := s.ch
		s.mu.Unlock()
		if done() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

func newMeshTracer(topics ...string) *meshTracer {
	m := &meshTracer{peers: make(map[string]map[peer.ID]struct{})}
	for _, t := range topics {
		m.peers[t] = make(map[peer.ID]struct{})
	}
	return m
}

func (m *meshTracer) update(p peer.ID, topic string, in bool) {
	m.mu.Lock()
	set, ok := m.peers[topic]
	if ok && in {
		set[p] = struct{}{}
	} else if ok {
		delete(set, p)
	}
	m.mu.Unlock()
	if ok {
		m.poke()
	}
}

// size counts the mesh peers of a topic for which connected is true
// (pubsub drops a disconnected peer from its mesh without a Prune event).
func (m *meshTracer) size(topic string, connected func(peer.ID) bool) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for p := range m.peers[topic] {
		if connected(p) {
			n++
		}
	}
	return n
}

func (m *meshTracer) Graft(p peer.ID, topic string) { m.update(p, topic, true) }
func (m *meshTracer) Prune(p peer.ID, topic string) { m.update(p, topic, false) }

// The rest of pubsub.RawTracer is of no interest here.
func (m *meshTracer) OnNewOutboundStream(peer.ID, protocol.ID) {}
func (m *meshTracer) OnClosedOutboundStream(peer.ID)           {}
func (m *meshTracer) Join(string)                              {}
func (m *meshTracer) Leave(string)                             {}
func (m *meshTracer) ValidateMessage(*pubsub.Message)          {}
func (m *meshTracer) DeliverMessage(*pubsub.Message)           {}
func (m *meshTracer) RejectMessage(*pubsub.Message, string)    {}
func (m *meshTracer) DuplicateMessage(*pubsub.Message)         {}
func (m *meshTracer) ThrottlePeer(peer.ID)                     {}
func (m *meshTracer) RecvRPC(*pubsub.RPC)                      {}
func (m *meshTracer) SendRPC(*pubsub.RPC, peer.ID)             {}
func (m *meshTracer) DropRPC(*pubsub.RPC, peer.ID)             {}
func (m *meshTracer) UndeliverableMessage(*pubsub.Message)     {}
