// Package chunker turns files and directories into content-addressed UnixFS
// DAGs and back, and keeps them in the node's local content store.
//
// It owns the byte-level format (CIDv1, raw leaves, dag-pb internal nodes
// identical to what IPFS produces with the same settings), the streaming
// importer and exporter, block verification against CIDs, the reading of
// CIDs that users type (ParseCID: length checked first, what is wrong said
// once in words), the store of kept roots, and the receiving side of a
// fetch. It does no networking.
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
// Directories are as `ipfs add -r` makes them with the unixfs-v1-2025
// profile (dotfiles skipped unless Params.Hidden; symlinks as UnixFS
// symlink nodes). A basic directory is one dag-pb node, links sorted by
// name, Data {Type: Directory}. A directory whose basic node would pass
// MaxDirBlockSize (256 KiB) as an encoded block (the profile's
// "block-bytes" estimate, which is exact; a node of exactly 256 KiB stays
// basic) is a HAMT instead: shard nodes of fanout 256, each level taking
// the next 8 bits of murmur3-x64-64 of the entry name (most significant
// first); a slot with one entry links to it as "%02X"+name, a slot with
// several to a sub-shard as "%02X"; Data {Type: HAMTShard, Data: the slot
// bitfield, hashType 0x22, fanout 256}. An import only adds entries, so
// the shape depends on the set of names alone. The tests check flat
// directories of 1,000 to 20,000 files, a nested big folder, names in
// many scripts and directories one byte either side of the threshold
// against boxo's own HAMT.
//
// Reading (export, layout, paths, listing) accepts basic directories and
// HAMTs of any power-of-two fanout in [8, 1024] and checks each shard
// (hamt.go readShard): the bitfield agrees with the links, slots rise,
// and every entry sits in the slot its name's hash leads to, so a lying
// shard cannot hide, duplicate or misplace a name. ResolvePath follows a
// path through both kinds (a HAMT by hash, reading only the shards on
// the way); DirEntries lists one.
//
// # Whole DAGs
//
// WalkDAG visits every block under a root once, depth first, a node
// before its children in link order: the order of a CAR file (package
// car writes and reads the format). ImportBlocks keeps roots from a
// stream of blocks (a CAR's): each block is verified before it is stored,
// in the index under a temporary owner; then each root must be whole and
// pass the layout rules, and gets its own owner marking every block of
// its DAG (so Remove of one root never frees another's blocks); the
// temporary owner is released last, dropping blocks no root reaches. Any
// failure releases everything, so a bad CAR keeps nothing.
//
// # Verification
//
// Every block is hashed against its CID whenever it is read from the store
// (Store.Get, so also Cat, Export, serving) or received (Fetch.PutNode,
// Fetch.PutLeaf), except a leaf read from a trusted file (below), whose
// bytes were hashed at import and are known not to have changed since.
// A mismatch is a *BlockError naming the CID and wrapping
// ErrHashMismatch; the bytes are never returned or written. Only CIDv1
// sha2-256 raw/dag-pb CIDs are accepted (ErrUnsupportedCID otherwise).
//
// # Trusted files
//
// Hashing each leaf again every time a seeder serves it doubled the
// seeder's SHA-256 work. So AddPath records, with each shared file, its
// stamp (stamp.go): size, mtime, change time (unix ctime, Windows
// ChangeTime) and identity (device and inode on Linux and macOS, from
// fstat; volume serial number and file index on Windows, from
// GetFileInformationByHandle, the change time from
// GetFileInformationByHandleEx). The stamp is taken from the open file
// before and after the import and must not have moved. A read of a
// trusted file takes the stamp of the file it opened after reading the
// leaf (one fstat call, about a microsecond against half a millisecond to
// hash 1 MiB); if it equals the recorded one, the bytes are served
// without hashing (the change time only moves forward, so a write before
// or during the read would show). Anything else is hashed as before: a
// rewrite in place (the change time moves, even if os.Chtimes restores
// the mtime), a replacement by rename (another identity), a truncation.
// When the hash then fails and the stamp differs, the error is
// ErrSourceChanged, so the node marks the root broken. Files are opened
// per read, not kept open: an open handle would keep a deleted file's
// space on unix and stop the user renaming or deleting it on Windows, and
// opening costs about as little as the stamp.
//
// A file is trusted only if it was quiet when the import started: its
// last change at least 100 ms before (2 s when its timestamps are whole
// seconds, as on file systems that keep no finer ones). A write in the
// same clock tick as the recorded change time would leave the stamp as
// it was; after a quiet period every later write gets a later change
// time (git calls the other case "racily clean"). A file written just
// before it is shared is hashed on every read, as before. What a stamp
// cannot see: writes through a memory mapping to a page already dirty
// (the kernel sets times at the first write fault), a clock set back, and
// a network file system whose server clock lags ours. The leecher
// verifies every leaf whatever the seeder does.
//
// File records are version 2 (keys.go): a flags byte (complete, trusted)
// and, for a trusted file, its change time and identity. Version 1
// records, written before stamps existed, decode as untrusted files and
// are hashed on every read, as then; sharing the file again writes a
// version 2 record (it replaces the references). Fetched files and
// partial files are not trusted (a fetch's last write is moments before
// its Finish); they are hashed as before. Platforms other than Linux,
// macOS and Windows read no identity and hash every read.
//
// # Store
//
// The index is a goleveldb database in <dir>/index (keys in keys.go). Leaf
// bytes are not copied: a shared file's leaves are recorded as (file,
// offset, length) with the file's path, size and mtime; a fetched file's
// leaves likewise point into its partial file while it is fetched, and
// into its destination once finished. Internal nodes (small) and the
// leaves of a stream import (AddReader, which has no file) live in the
// index. Every read re-verifies (by hash, or by the stamp of a trusted
// file); when it fails, the error says whether the
// file is missing (ErrSourceMissing), changed size or mtime, or, for a
// trusted file, any part of its stamp (ErrSourceChanged), or holds wrong
// bytes at an unchanged size and mtime (ErrHashMismatch). GetInto reads
// a leaf into a buffer the caller gives, so a server reuses a few. Files kept by reference are never modified or deleted
// by the store: it deletes only a fetch's own partial data (Abort,
// DropIncoming, a fresh fetch clearing a stale one), and replaces what is
// at a destination only for a fetch started with Force.
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
// # Names and broken roots
//
// A root record (keys.go) carries the name the root was shared under
// (filepath.Base of the path given to AddPath; for a top-level symlink,
// the symlink's own name) or fetched under (the base name of the final
// destination); RootInfo.Name reports it ("" for AddReader and for records
// written before names existed). Sharing the same content again under
// another name renames the root.
//
// MarkBroken records why a root can no longer be served (its file changed
// or vanished); RootInfo.Broken reports it until the root is shared again
// (a fresh import that commits the same root writes a new record) or
// MarkBroken(root, "") clears it. CheckSources is the cheap test for it:
// a stat of every referenced file against the recorded size and mtime, no
// reading; ErrSourceMissing or ErrSourceChanged name the first file that
// fails. The store never marks a root by itself: the node decides when
// (at start, when serving fails).
//
// AddPath("") is refused. A path that is a symlink is followed: the file or
// directory it points to is shared, recorded by its resolved path; a
// dangling symlink is an error. Symlinks inside a shared directory are
// kept as UnixFS symlinks.
//
// # Fetch
//
// StartFetch opens an incoming root with a destination. PutNode accepts the
// dag-pb nodes listed by Missing until the Layout (files and ordered leaves
// with offsets) is known; PutLeaf verifies a leaf, writes it at its offset
// (at every offset with the same CID), and records the reference; Finish
// turns the root into a kept root served from the destination. Many
// goroutines may call PutLeaf at once.
//
// The destination never holds anything but verified content. The data is
// written to a partial path beside it, PartPath(dest): for /x/big.bin,
// /x/.big.bin.myco-part (a directory of that name for a directory root).
// The incoming record (keys.go) keeps the destination, the partial path
// and Force; the file records name the partial paths. The partial path is
// fixed for the life of a fetch; SetDest changes only the destination
// (when the root's name is learned), recorded at once. Finish, once every
// leaf is verified: syncs every file and directory of the partial data,
// renames it to the destination (refusing with ErrDestExists if something
// is there, unless Force: then a file is replaced atomically, a directory
// removed first), syncs the parent directory, and then commits, in one
// synced batch, the kept root (named after the destination) with its file
// records naming the final paths, dropping the incoming record. A refused
// Finish leaves the fetch open. Abort releases the fetch's index entries,
// then removes the partial data unless keepPartial; it never touches the
// destination. A fresh StartFetch removes stale partial data at its
// partial path, so a fetch after an Abort starts clean. DropIncoming does
// what Abort does for a recorded fetch that cannot be started.
//
// # Crashes and resume
//
// After a crash, Incoming lists unfinished fetches and StartFetch(root, "")
// reopens one: its nodes are in the index, and the leaves recorded in its
// partial data count again once re-read and re-verified. The partial data
// is what is on disk; a leaf the index recorded whose bytes do not verify
// is fetched again.
//
// A crash between Finish's rename and its commit leaves the record of an
// unfinished fetch, no partial data, and the content at the destination.
// The resumed fetch sees exactly that (partial path gone, destination
// present) and treats the destination's bytes as what is on disk: it
// re-reads and re-verifies every leaf there, reading only. If all verify
// (and, for a directory, the tree matches), the fetch is complete and
// Finish only commits it. If not, the destination is someone else's: it is
// left alone, the fetch starts its partial data afresh, and Finish will
// refuse the destination unless Force. No marker is written before the
// rename: the check costs a read of the destination only in this rare
// case, and it is right whatever put the destination there.
//
// Records written by the version that fetched in place (owner and
// destination only) still decode. Resuming one moves whatever is at the
// destination (that fetch's unfinished output, since it refused an
// existing destination) to the partial path, points the file records at
// it, rewrites the record, and re-verifies the leaves as usual.
//
// StartFetch registers the fetch under the store's fetch lock with index
// reads only; creating the partial data, reserving space and re-verifying
// leaves happen after, outside it, so StartFetch, Abort and Roots of other
// roots never wait for them. A second StartFetch of the same root waits
// for the first and gets the same *Fetch. A StartFetch that fails leaves
// nothing registered (a fresh one nothing in the index or on disk either;
// a resumed one keeps its record for a retry or DropIncoming).
//
// # Disk full
//
// When the layout becomes known, each file of the partial data is given
// its full size: on Linux with fallocate, which reserves the blocks, so a
// fetch that does not fit fails there and then (EOPNOTSUPP: the file is
// only extended, as elsewhere). Running out of space there, when creating
// the partial data, writing a leaf or syncing in Finish is an error that
// wraps ErrNoSpace (and the system's error), for the caller to fail the
// fetch at once with that reason; an Abort then frees the space. After an
// allocation fails, the last node stays listed by Missing, so a fetch
// kept open can retry once space is freed.
//
// Leaves are written around the page cache with O_DIRECT where the system
// allows it and the leaf is aligned (a buffer from AlignedBuffer, 4 KiB
// offsets and lengths), and through it otherwise, with writeback started
// at once (sync_file_range) so Finish's sync does not wait for the whole
// file. direct.go says why: a download is written once and not read back
// soon, and filling the cache was where a 512 MiB fetch spent its time.
// macOS has no O_DIRECT: its equivalent, F_NOCACHE on the descriptor, is
// used the same way, with no early writeback. Windows uses the plain write
// and Finish's fsync; DirectIO says which in one line, logged at start.
//
// # Many small files
//
// ImportDir walks a tree in the calling goroutine and hands its regular
// files to up to GOMAXPROCS (at most 8) workers, so reading, hashing and
// indexing overlap with the walk; a directory's node is written once,
// when its entries are known. A file of at most one chunk is read whole
// into a buffer of its size and hashed at once (no pipeline); AddPath
// gives each worker its own index batch (same owner, flushed at 1 MiB and
// at the end), and owner and file ids are reserved 1,024 at a time, so
// the index is written in large batches. Through a daemon, 50,000 files
// of 2 KiB share at about the speed of sha256sum over them
// (testnet/bench.sh).
//
// # Memory
//
// Import holds one chunk per pipeline slot plus MaxLinks links per tree
// level; export holds one block and the links of the nodes on the current
// path. Neither depends on the file's size. A Fetch's Layout lists every
// leaf (about 80 bytes each, so 80 MiB for a 1 TiB file at 1 MiB chunks).
package chunker
