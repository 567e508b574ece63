// Package chunker turns files and directories into content-addressed UnixFS
// DAGs and back, and keeps them in the node's local content store.
//
// It owns the byte-level format (CIDv1, raw leaves, dag-pb internal nodes
// identical to what IPFS produces with the same settings), the streaming
// importer and exporter, block verification against CIDs, and the store of
// kept roots. It does no networking.
package chunker
