package ledgertest

import (
	"errors"
	"sync"

	"github.com/myco-p2p/myco/ledger"
)

// ErrInjected is the error of a write that FaultStore fails.
var ErrInjected = errors.New("injected store failure")

// FaultStore passes everything to a Store but fails the FailAt-th write
// (counting from 1) and every write after it, as if the process had died at
// that point: nothing more reaches the disk.
type FaultStore struct {
	ledger.Store
	mu     sync.Mutex
	writes int
	failAt int
}

// NewFaultStore wraps s; it fails nothing until FailAt is called.
func NewFaultStore(s ledger.Store) *FaultStore { return &FaultStore{Store: s} }

// FailAt makes the n-th write from now (n >= 1) and all later ones fail.
func (f *FaultStore) FailAt(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failAt = f.writes + n
}

// Writes returns how many writes were attempted.
func (f *FaultStore) Writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes
}

// Write implements ledger.Store.
func (f *FaultStore) Write(b *ledger.Batch) error {
	f.mu.Lock()
	f.writes++
	fail := f.failAt > 0 && f.writes >= f.failAt
	f.mu.Unlock()
	if fail {
		return ErrInjected
	}
	return f.Store.Write(b)
}
