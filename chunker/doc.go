// Package chunker turns files and directories into content-addressed UnixFS
// DAGs and back, and keeps them in the node's local content store.
//
// It owns the byte-level format (CIDv1, raw leaves, dag-pb internal nodes
// identical to what IPFS produces with the same settings), the streaming
// importer and exporter, block verification against CIDs, the store of
// kept roots, and the receiving side of a fetch. It does no networking.
//
// # Format
//
// A file is cut into fixed-size chunks; each is a raw block (codec 0x55,
// sha2-256, CIDv1). A file of one chunk is that block alone; the empty file
// is the empty raw block. Larger files get dag-pb (0x70) nodes whose Data is
// UnixFS {Type: File, filesize, blocksizes}, laid out exactly like boxo's
// balanced builder: leaves fill a node up to MaxLinks, the tree grows a level
// when the root is full, each new subtree is filled depth-first. Links have
// an empty Name and Tsize = the child's cumulative size. DefaultParams is
// IPFS's unixfs-v1-2025 profile (1 MiB, 1024 links); LegacyParams is 256 KiB
// / 174 links. The tests check every block against boxo's own importer.
//
// dag-pb and UnixFS protobufs are encoded by hand in the canonical order
// (links before data; Hash, Name, Tsize; Type, Data, filesize, blocksizes).
// The dag-pb decoder is strict as the DAG-PB spec asks; both decoders check
// the block size limit (MaxBlockSize) before anything else and are fuzzed.
//
// Directories are UnixFS basic directories: dag-pb links sorted by name,
// Data {Type: Directory}, as `ipfs add -r` makes them (dotfiles skipped
// unless Params.Hidden; symlinks as UnixFS symlink nodes). IPFS turns a
// directory into a HAMT shard once its estimate passes 256 KiB; below that
// both agree. A directory whose node would exceed MaxDirBlockSize (256 KiB)
// is refused with ErrTooLarge instead of being encoded differently: HAMT
// sharding is not implemented.
//
// # Verification
//
// Every block is hashed against its CID whenever it is read from the store
// (Store.Get, so also Cat, Export, serving) or received (Fetch.PutNode,
// Fetch.PutLeaf). A mismatch is a *BlockError naming the CID and wrapping
// ErrHashMismatch; the bytes are never returned or written. Only CIDv1
// sha2-256 raw/dag-pb CIDs are accepted (ErrUnsupportedCID otherwise).
//
// # Store
//
// The index is a goleveldb database in <dir>/index (keys in keys.go). Leaf
// bytes are not copied: a shared file's leaves are recorded as (file,
// offset, length) with the file's path, size and mtime; a fetched file's
// leaves likewise point into its destination. Internal nodes (small) and the
// leaves of a stream import (AddReader, which has no file) live in the
// index. Every read re-verifies; when it fails, the error says whether the
// file is missing (ErrSourceMissing), changed size or mtime
// (ErrSourceChanged), or holds wrong bytes at an unchanged size and mtime
// (ErrHashMismatch). Files kept by reference are never modified or deleted
// by the store.
//
// Freeing uses owner sets, not mark-and-sweep: each import or fetch is an
// owner; a block in the index carries one marker per owner using it, and
// each referenced file belongs to exactly one owner. Remove(root) releases
// the root's owner: its markers go, and a block whose last marker went is
// deleted, as are the owner's file records and leaf locations. Commits of an
// owner's blocks and Remove's check-and-delete are serialized, so concurrent
// imports never lose a block they share. An owner is marked pending until
// its root is committed; an import interrupted by a crash is rolled back on
// Open. Sharing a root that is already kept replaces its references (useful
// after moving the file).
//
// # Fetch
//
// StartFetch opens an incoming root with a destination. PutNode accepts the
// dag-pb nodes listed by Missing until the Layout (files and ordered leaves
// with offsets) is known; PutLeaf verifies a leaf, writes it at its offset
// (at every offset with the same CID), and records the reference; Finish
// syncs the files and turns the root into a kept root served from the
// destination. Many goroutines may call PutLeaf at once. After a crash,
// Incoming lists unfinished fetches and StartFetch(root, "") reopens one:
// its nodes are in the index, and the leaves recorded on disk count again
// once re-read and re-verified.
//
// Leaves are written around the page cache with O_DIRECT where the system
// allows it and the leaf is aligned (a buffer from AlignedBuffer, 4 KiB
// offsets and lengths), and through it otherwise, with writeback started
// at once (sync_file_range) so Finish's sync does not wait for the whole
// file. direct.go says why: a download is written once and not read back
// soon, and filling the cache was where a 512 MiB fetch spent its time.
//
// # Memory
//
// Import holds one chunk per pipeline slot plus MaxLinks links per tree
// level; export holds one block and the links of the nodes on the current
// path. Neither depends on the file's size. A Fetch's Layout lists every
// leaf (about 80 bytes each, so 80 MiB for a 1 TiB file at 1 MiB chunks).
package chunker
