// Package leveldbstore keeps a ledger chain on disk: Store is a
// ledger.Store on goleveldb, and OpenChain opens a network's chain in a
// directory (what the node does at start).
//
// It owns the file I/O the ledger package leaves to its caller and nothing
// of the chain's logic: the chain hands it one ledger.Batch per connected
// or disconnected block and Store writes each as one atomic leveldb batch,
// synced to disk unless Options.NoSync (tests, benchmarks). A crash at any
// write therefore leaves the files at a block boundary; the crash tests
// here fail the store at every write of a scenario in turn and check that
// the reopened chain is consistent and resumes.
package leveldbstore
