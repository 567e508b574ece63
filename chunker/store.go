package chunker

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// Store is the local content store: a leveldb index under its directory
// plus, by reference, the user's own files. See the package doc for the
// layout and the rules. All methods are safe for concurrent use.
type Store struct {
	db  *leveldb.DB
	log *slog.Logger

	// gc serializes the commit of ownership (a batch that adds blocks and
	// their owner markers) with Remove's check-and-delete, so a block that
	// another owner is adding is never deleted under it.
	gc sync.Mutex

	idMu    sync.Mutex
	nextID  uint64 // the last id handed out
	idLimit uint64 // the counter as written: ids up to it are reserved

	// fetchMu guards fetches only; no file I/O or hashing is done while
	// holding it.
	fetchMu sync.Mutex
	fetches map[cid.Cid]*Fetch

	hooks testHooks // nil functions in production
}

// testHooks let tests inject failures and pause the store at chosen
// points. Set before the store is used; never changed after.
type testHooks struct {
	// writeLeaf, if set, runs before a leaf is written to a partial file;
	// an error stands for the write's.
	writeLeaf func(path string, off int64) error
	// allocate, if set, replaces the reservation of a partial file's size.
	allocate func(fh *os.File, n int64) error
	// verifyOnDisk, if set, runs before a fetch re-reads the leaves an
	// earlier run left on disk.
	verifyOnDisk func(root cid.Cid)
	// afterRename, if set, runs in Finish between the rename and the
	// commit of the root; an error stops Finish there, as a crash would.
	afterRename func() error
	// now, if set, replaces time.Now where an import decides whether
	// a file is quiet enough to trust (fileStamp.quietSince).
	now func() time.Time
	// hashRef, if set, runs each time a leaf kept by reference is
	// hashed as it is read.
	hashRef func(c cid.Cid)
}

func (s *Store) now() time.Time {
	if s.hooks.now != nil {
		return s.hooks.now()
	}
	return time.Now()
}

// RootInfo describes a kept root.
type RootInfo struct {
	Cid    cid.Cid
	Size   uint64 // content bytes
	Blocks uint64 // blocks in its DAG, counting repeats
	Dir    bool
	// Name is the file or folder name the root was shared or fetched
	// under ("" if none is known).
	Name string
	// Broken says why the root can no longer be served (a referenced
	// file changed or vanished); "" when it is whole.
	Broken string
}

// MarkBroken records, in the root's record, that root can no longer be
// served, and why; Roots and Root report it in RootInfo.Broken. A reason
// of "" clears the mark. Sharing the file again (a fresh import that
// commits the same root) clears it too. ErrNotKept if root is not kept.
func (s *Store) MarkBroken(root cid.Cid, reason string) error {
	s.gc.Lock()
	defer s.gc.Unlock()
	r, err := s.rootRecord(root)
	if err != nil {
		return fmt.Errorf("mark broken: %w", err)
	}
	if r.Broken == reason {
		return nil
	}
	r.Broken = reason
	if err := s.db.Put(plainCidKey(pRoot, root), r.encode(), &opt.WriteOptions{Sync: true}); err != nil {
		return fmt.Errorf("mark broken %s: %w", root, err)
	}
	if reason != "" {
		s.log.Debug("root marked broken", "cid", root, "reason", reason)
	}
	return nil
}

// CheckSources checks, cheaply (stat only, no reading or hashing), that
// every file root refers to still exists with the size and modification
// time recorded when it was shared or fetched. It returns nil if they all
// do, else an error naming the first file that does not, wrapping
// ErrSourceMissing or ErrSourceChanged (ErrNotKept if root is not kept).
// Roots kept in the index alone (from a stream, a symlink) always pass.
func (s *Store) CheckSources(root cid.Cid) error {
	r, err := s.rootRecord(root)
	if err != nil {
		return fmt.Errorf("check sources: %w", err)
	}
	it := s.db.NewIterator(util.BytesPrefix(idKey(pOwnerFile, r.Owner)), nil)
	defer it.Release()
	for it.Next() {
		fid := binary.BigEndian.Uint64(it.Key()[9:])
		v, err := s.db.Get(idKey(pFile, fid), nil)
		if err != nil {
			return fmt.Errorf("check sources of %s: file record %d: %w", root, fid, err)
		}
		rec, err := decodeFileRecord(v)
		if err != nil {
			return fmt.Errorf("check sources of %s: %w", root, err)
		}
		st, err := os.Stat(rec.Path)
		if err != nil {
			return fmt.Errorf("check sources of %s: %w: %s: %v", root, ErrSourceMissing, rec.Path, err)
		}
		if !st.Mode().IsRegular() || !rec.Complete || st.Size() != rec.Size || st.ModTime().UnixNano() != rec.MTime {
			return fmt.Errorf("check sources of %s: %w: %s", root, ErrSourceChanged, rec.Path)
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("check sources of %s: %w", root, err)
	}
	return nil
}

// Open opens (creating if needed) the store whose index lives in
// dir/index. Imports interrupted by a crash are rolled back; incoming
// fetches are kept for Resume.
func Open(dir string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := leveldb.OpenFile(filepath.Join(dir, "index"), &opt.Options{
		BlockCacheCapacity: 8 << 20,
		WriteBuffer:        1 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("open content store: %w", err)
	}
	s := &Store{db: db, log: log, fetches: map[cid.Cid]*Fetch{}}
	if v, err := db.Get([]byte{pCounter}, nil); err == nil && len(v) == 8 {
		s.nextID = binary.BigEndian.Uint64(v)
		s.idLimit = s.nextID
	} else if err != nil && !errors.Is(err, leveldb.ErrNotFound) {
		db.Close()
		return nil, fmt.Errorf("open content store: %w", err)
	}
	if err := s.rollbackImports(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open content store: %w", err)
	}
	return s, nil
}

// Close closes the index. Fetches still open must not be used after.
func (s *Store) Close() error {
	s.fetchMu.Lock()
	open := s.fetches
	s.fetches = map[cid.Cid]*Fetch{}
	s.fetchMu.Unlock()
	for _, f := range open {
		f.closeFiles() // waits for a StartFetch still preparing f
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close content store: %w", err)
	}
	return nil
}

const (
	pendingImport = 'I'
	pendingFetch  = 'F'
)

// newOwner allocates an owner id and marks it pending, so a crash
// before its root is committed is rolled back (imports) or resumed
// (fetches) at the next Open.
func (s *Store) newOwner(kind byte) (uint64, error) {
	id, err := s.newID()
	if err != nil {
		return 0, err
	}
	// No sync needed: leveldb's journal is written in order, so any later
	// write of this owner that survives a crash implies this one did.
	if err := s.db.Put(idKey(pPending, id), []byte{kind}, nil); err != nil {
		return 0, err
	}
	return id, nil
}

// idBlock is how many ids newID reserves with one write of the counter:
// the counter records the end of the reserved block, so ids handed out
// before a crash are never handed out again (some are skipped instead).
const idBlock = 1024

func (s *Store) newID() (uint64, error) {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	if s.nextID >= s.idLimit {
		limit := s.nextID + idBlock
		if err := s.db.Put([]byte{pCounter}, binary.BigEndian.AppendUint64(nil, limit), nil); err != nil {
			return 0, err
		}
		s.idLimit = limit
	}
	s.nextID++
	return s.nextID, nil
}

func (s *Store) rollbackImports() error {
	it := s.db.NewIterator(util.BytesPrefix([]byte{pPending}), nil)
	var stale []uint64
	for it.Next() {
		if v := it.Value(); len(v) == 1 && v[0] == pendingImport && len(it.Key()) == 9 {
			stale = append(stale, binary.BigEndian.Uint64(it.Key()[1:]))
		}
	}
	it.Release()
	if err := it.Error(); err != nil {
		return err
	}
	for _, o := range stale {
		s.log.Info("rolling back interrupted import", "owner", o)
		if err := s.release(o, nil); err != nil {
			return err
		}
	}
	return nil
}

// release deletes everything owner holds that no other owner uses, plus
// the owner's pending marker and any keys in also, atomically per step.
func (s *Store) release(owner uint64, also [][]byte) error {
	s.gc.Lock()
	defer s.gc.Unlock()
	return s.releaseLocked(owner, also, nil)
}

// releaseLocked is release with s.gc held; when freed is not nil, the
// blocks whose bytes it deletes are added to it.
func (s *Store) releaseLocked(owner uint64, also [][]byte, freed *GCResult) error {
	b := new(leveldb.Batch)
	flush := func() error {
		if b.Len() == 0 {
			return nil
		}
		err := s.db.Write(b, nil)
		b.Reset()
		return err
	}
	// Nodes: drop the owner's marker; drop the bytes when no marker is left.
	it := s.db.NewIterator(util.BytesPrefix(idKey(pOwnerNode, owner)), nil)
	for it.Next() {
		c, err := cid.Cast(it.Key()[9:])
		if err != nil {
			continue
		}
		b.Delete(bytes.Clone(it.Key()))
		b.Delete(nodeOwnerKey(c, owner))
		// gc is held: no other owner's marker comes or goes meanwhile, so
		// the batch need not be written before this check.
		if !s.hasOtherOwner(c, owner) {
			if freed != nil {
				if v, err := s.db.Get(plainCidKey(pNode, c), nil); err == nil {
					freed.add(c, len(v))
				}
			}
			b.Delete(plainCidKey(pNode, c))
		}
		if b.Len() > 1000 {
			if err := flush(); err != nil {
				it.Release()
				return err
			}
		}
	}
	it.Release()
	if err := it.Error(); err != nil {
		return err
	}
	// Files: each belongs to one owner; drop it and its leaf locations.
	it = s.db.NewIterator(util.BytesPrefix(idKey(pOwnerFile, owner)), nil)
	for it.Next() {
		fid := binary.BigEndian.Uint64(it.Key()[9:])
		b.Delete(bytes.Clone(it.Key()))
		b.Delete(idKey(pFile, fid))
		lit := s.db.NewIterator(util.BytesPrefix(idKey(pFileLeaf, fid)), nil)
		for lit.Next() {
			off := int64(binary.BigEndian.Uint64(lit.Key()[9:]))
			if c, err := cid.Cast(lit.Value()); err == nil {
				b.Delete(leafLocKey(c, fid, off))
			}
			b.Delete(bytes.Clone(lit.Key()))
			if b.Len() > 1000 {
				if err := flush(); err != nil {
					lit.Release()
					it.Release()
					return err
				}
			}
		}
		lit.Release()
		if err := lit.Error(); err != nil {
			it.Release()
			return err
		}
	}
	it.Release()
	if err := it.Error(); err != nil {
		return err
	}
	b.Delete(idKey(pPending, owner))
	for _, k := range also {
		b.Delete(k)
	}
	return s.db.Write(b, nil)
}

// hasOtherOwner reports whether an owner other than owner uses block c.
func (s *Store) hasOtherOwner(c cid.Cid, owner uint64) bool {
	mine := nodeOwnerKey(c, owner)
	it := s.db.NewIterator(util.BytesPrefix(cidKey(pNodeOwner, c)), nil)
	defer it.Release()
	for it.Next() {
		if !bytes.Equal(it.Key(), mine) {
			return true
		}
	}
	return false
}

func (s *Store) hasPrefix(p []byte) bool {
	it := s.db.NewIterator(util.BytesPrefix(p), nil)
	defer it.Release()
	return it.Next()
}

// ownedBatch collects index writes of one owner and commits them under gc.
type ownedBatch struct {
	s     *Store
	owner uint64
	b     leveldb.Batch
	bytes int
}

func (w *ownedBatch) node(c cid.Cid, data []byte) error {
	w.b.Put(plainCidKey(pNode, c), data)
	w.b.Put(nodeOwnerKey(c, w.owner), nil)
	w.b.Put(ownerNodeKey(w.owner, c), nil)
	w.bytes += len(data) + 100
	return w.maybeFlush()
}

func (w *ownedBatch) leafRef(c cid.Cid, file uint64, off int64, n int) error {
	w.b.Put(leafLocKey(c, file, off), binary.AppendUvarint(nil, uint64(n)))
	w.b.Put(fileLeafKey(file, off), c.Bytes())
	w.bytes += 120
	return w.maybeFlush()
}

func (w *ownedBatch) maybeFlush() error {
	if w.bytes < 1<<20 {
		return nil
	}
	return w.flush(false)
}

func (w *ownedBatch) flush(sync bool) error {
	w.s.gc.Lock()
	defer w.s.gc.Unlock()
	if err := w.s.db.Write(&w.b, &opt.WriteOptions{Sync: sync}); err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	w.b.Reset()
	w.bytes = 0
	return nil
}

// refSink records an import's leaves as references into one file and its
// nodes in the index.
type refSink struct {
	w    *ownedBatch
	file uint64
}

func (r *refSink) Leaf(c cid.Cid, data []byte, off int64) error {
	if len(data) == 0 {
		return r.w.node(c, nil)
	}
	return r.w.leafRef(c, r.file, off, len(data))
}

func (r *refSink) Node(c cid.Cid, data []byte) error { return r.w.node(c, data) }

// inlineSink keeps every block, leaves included, in the index.
type inlineSink struct{ w *ownedBatch }

func (i inlineSink) Leaf(c cid.Cid, data []byte, _ int64) error { return i.w.node(c, data) }
func (i inlineSink) Node(c cid.Cid, data []byte) error          { return i.w.node(c, data) }

// AddPath imports the file or directory at path and keeps its root, under
// the name filepath.Base(path). File bytes are not copied: leaves are
// recorded as (file, offset, length) references, re-verified on every
// read. Sharing a root that is already kept replaces the old references
// with the new ones, takes the new name, and clears a broken mark.
//
// A path that is itself a symlink is followed: the file or directory it
// points to is shared, under the symlink's own name (a dangling symlink
// is an error). Symlinks inside a shared directory are kept as symlinks.
// The empty path is refused.
func (s *Store) AddPath(ctx context.Context, path string, p Params) (RootInfo, error) {
	if path == "" {
		return RootInfo{}, errors.New("share: empty path")
	}
	if err := p.Validate(); err != nil {
		return RootInfo{}, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return RootInfo{}, fmt.Errorf("share %s: %w", path, err)
	}
	name := filepath.Base(abs)
	if name == string(filepath.Separator) || name == "." {
		name = ""
	}
	fi, err := os.Lstat(abs)
	if err != nil {
		return RootInfo{}, fmt.Errorf("share: %w", err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(abs)
		if err != nil {
			link, _ := os.Readlink(abs)
			return RootInfo{}, fmt.Errorf("share %s: dangling symlink to %s: %w", path, link, err)
		}
		if abs, err = filepath.Abs(target); err != nil {
			return RootInfo{}, fmt.Errorf("share %s: %w", path, err)
		}
		if fi, err = os.Stat(abs); err != nil {
			return RootInfo{}, fmt.Errorf("share %s: %w", path, err)
		}
	}
	owner, err := s.newOwner(pendingImport)
	if err != nil {
		return RootInfo{}, fmt.Errorf("share %s: %w", path, err)
	}
	w := &ownedBatch{s: s, owner: owner}
	var e Entry
	kind := byte(kindFile)
	switch {
	case fi.IsDir():
		kind = kindDir
		// Each file worker writes through a batch of its own (same owner).
		batches := make(chan *ownedBatch, maxImportWorkers)
		for range maxImportWorkers {
			batches <- &ownedBatch{s: s, owner: owner}
		}
		e, err = ImportDir(ctx, abs, p, func(ctx context.Context, path string) (Entry, error) {
			wb := <-batches
			defer func() { batches <- wb }()
			return s.importRef(ctx, wb, path, p)
		}, inlineSink{w})
		for range maxImportWorkers {
			if wb := <-batches; err == nil {
				err = wb.flush(false)
			}
		}
	case fi.Mode().IsRegular():
		e, err = s.importRef(ctx, w, abs, p)
	case fi.Mode()&fs.ModeSymlink != 0:
		kind = kindSymlink
		e, err = importSymlink(abs, inlineSink{w})
	default:
		err = fmt.Errorf("unsupported file type %s", fi.Mode().Type())
	}
	if err == nil {
		err = s.commitRoot(w, e, kind, name)
	}
	if err != nil {
		if rerr := s.release(owner, nil); rerr != nil {
			s.log.Error("rolling back failed import", "path", path, "err", rerr)
		}
		return RootInfo{}, fmt.Errorf("share %s: %w", path, err)
	}
	s.log.Info("shared", "path", abs, "name", name, "cid", e.Cid, "size", e.Size)
	return RootInfo{Cid: e.Cid, Size: e.Size, Blocks: uint64(e.Blocks), Dir: kind == kindDir, Name: name}, nil
}

// AddReader imports a stream (no file to refer to): every block, leaves
// included, is kept in the index.
func (s *Store) AddReader(ctx context.Context, r io.Reader, p Params) (RootInfo, error) {
	if err := p.Validate(); err != nil {
		return RootInfo{}, err
	}
	owner, err := s.newOwner(pendingImport)
	if err != nil {
		return RootInfo{}, fmt.Errorf("add stream: %w", err)
	}
	w := &ownedBatch{s: s, owner: owner}
	e, err := ImportFile(ctx, r, p, inlineSink{w})
	if err == nil {
		err = s.commitRoot(w, e, kindFile, "")
	}
	if err != nil {
		if rerr := s.release(owner, nil); rerr != nil {
			s.log.Error("rolling back failed import", "err", rerr)
		}
		return RootInfo{}, fmt.Errorf("add stream: %w", err)
	}
	return RootInfo{Cid: e.Cid, Size: e.Size, Blocks: uint64(e.Blocks)}, nil
}

// importRef imports one regular file by reference under w's owner.
func (s *Store) importRef(ctx context.Context, w *ownedBatch, path string, p Params) (Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return Entry{}, err
	}
	defer f.Close()
	start := s.now()
	before, id, err := stamp(f)
	if err != nil {
		return Entry{}, err
	}
	fid, err := s.newID()
	if err != nil {
		return Entry{}, err
	}
	// Recorded first (untrusted), so the leaf references flushed before
	// the end always have their file, and a rollback finds them.
	rec := fileRecord{Owner: w.owner, Complete: true, Size: before.Size, MTime: before.MTime, Path: path}
	w.b.Put(idKey(pFile, fid), rec.encode())
	w.b.Put(ownerFileKey(w.owner, fid), nil)
	var e Entry
	if n := before.Size; n <= int64(p.ChunkSize) {
		// One leaf: read whole into a buffer of its size, hashed here.
		e, err = importSmall(f, n, &refSink{w: w, file: fid})
	} else {
		e, err = ImportFile(ctx, f, p, &refSink{w: w, file: fid})
	}
	if err != nil {
		return Entry{}, fmt.Errorf("%s: %w", path, err)
	}
	after, _, err := stamp(f)
	if err != nil {
		return Entry{}, err
	}
	if after != before || e.Size != uint64(before.Size) {
		return Entry{}, fmt.Errorf("%s: file changed while it was being imported", path)
	}
	// Every leaf was hashed from the file at this stamp: reads at the
	// same stamp need not hash again, if the file was quiet.
	if id && before.quietSince(start) {
		rec.Trusted, rec.CTime, rec.Dev, rec.Ino = true, before.CTime, before.Dev, before.Ino
		w.b.Put(idKey(pFile, fid), rec.encode())
	}
	return e, nil
}

// importSmall imports a file of n bytes (at most one chunk) as its one
// raw leaf. A file that is not n bytes long by now is an error.
func importSmall(r io.Reader, n int64, sink Sink) (Entry, error) {
	data := make([]byte, n)
	if _, err := io.ReadFull(r, data); err != nil {
		return Entry{}, fmt.Errorf("read: %w", err)
	}
	c := sumCID(CodecRaw, data)
	if err := sink.Leaf(c, data, 0); err != nil {
		return Entry{}, err
	}
	return Entry{Cid: c, Size: uint64(n), Tsize: uint64(n), Blocks: 1}, nil
}

// commitRoot flushes w and makes e.Cid a kept root owned by w.owner and
// named name, in one synced batch; a previous owner of the same root is
// released.
func (s *Store) commitRoot(w *ownedBatch, e Entry, kind byte, name string) error {
	old, oldErr := s.rootRecord(e.Cid)
	rec := rootRecord{Owner: w.owner, Size: e.Size, Blocks: uint64(e.Blocks), Kind: kind, Name: name}
	w.b.Put(plainCidKey(pRoot, e.Cid), rec.encode())
	w.b.Delete(idKey(pPending, w.owner))
	if err := w.flush(true); err != nil {
		return err
	}
	if oldErr == nil {
		return s.release(old.Owner, nil)
	}
	return nil
}

func (s *Store) rootRecord(c cid.Cid) (rootRecord, error) {
	v, err := s.db.Get(plainCidKey(pRoot, c), nil)
	if errors.Is(err, leveldb.ErrNotFound) {
		return rootRecord{}, fmt.Errorf("%s: %w", c, ErrNotKept)
	}
	if err != nil {
		return rootRecord{}, err
	}
	return decodeRootRecord(v)
}

// Roots lists the kept roots.
func (s *Store) Roots() ([]RootInfo, error) {
	it := s.db.NewIterator(util.BytesPrefix([]byte{pRoot}), nil)
	defer it.Release()
	var out []RootInfo
	for it.Next() {
		c, err := cid.Cast(it.Key()[1:])
		if err != nil {
			return nil, fmt.Errorf("list roots: %w", err)
		}
		r, err := decodeRootRecord(it.Value())
		if err != nil {
			return nil, fmt.Errorf("list roots: %s: %w", c, err)
		}
		out = append(out, r.info(c))
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("list roots: %w", err)
	}
	return out, nil
}

// Root returns what the store knows of a kept root (ErrNotKept if none).
func (s *Store) Root(c cid.Cid) (RootInfo, error) {
	r, err := s.rootRecord(c)
	if err != nil {
		return RootInfo{}, err
	}
	return r.info(c), nil
}

func (r rootRecord) info(c cid.Cid) RootInfo {
	return RootInfo{Cid: c, Size: r.Size, Blocks: r.Blocks, Dir: r.Kind == kindDir, Name: r.Name, Broken: r.Broken}
}

// Remove stops keeping root and frees every block no other kept or
// incoming root uses. Files kept by reference are never deleted: the store
// only forgets them.
func (s *Store) Remove(root cid.Cid) error {
	r, err := s.rootRecord(root)
	if err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	if err := s.release(r.Owner, [][]byte{plainCidKey(pRoot, root)}); err != nil {
		return fmt.Errorf("remove %s: %w", root, err)
	}
	s.log.Info("removed", "cid", root)
	return nil
}

// Has reports whether the store holds a location for block c (without
// reading or verifying it).
func (s *Store) Has(c cid.Cid) bool {
	if ok, _ := s.db.Has(plainCidKey(pNode, c), nil); ok {
		return true
	}
	return s.hasPrefix(cidKey(pLeafLoc, c))
}

// Get returns the bytes of block c, verified against c. A block kept by
// reference is read from its file; if every location fails, the error says
// why (ErrSourceMissing, ErrSourceChanged, ErrHashMismatch), wrapped in a
// *BlockError naming c. Unknown blocks are ErrNotFound. A leaf of a
// trusted file whose stamp is unchanged is not hashed again (package doc).
func (s *Store) Get(ctx context.Context, c cid.Cid) ([]byte, error) {
	return s.GetInto(ctx, c, nil)
}

// GetInto is Get reading a leaf kept by reference into buf when it has the
// capacity (a fresh buffer otherwise), so a caller that serves many leaves
// can reuse a few buffers. The result may or may not share buf's memory:
// blocks kept in the index come from the index.
func (s *Store) GetInto(ctx context.Context, c cid.Cid, buf []byte) ([]byte, error) {
	if err := checkCID(c); err != nil {
		return nil, err
	}
	v, err := s.db.Get(plainCidKey(pNode, c), nil)
	if err == nil {
		if err := Verify(c, v); err != nil {
			return nil, err
		}
		return v, nil
	}
	if !errors.Is(err, leveldb.ErrNotFound) {
		return nil, blockErr("get", c, err)
	}
	var first error
	it := s.db.NewIterator(util.BytesPrefix(cidKey(pLeafLoc, c)), nil)
	defer it.Release()
	for it.Next() {
		k := it.Key()
		fid := binary.BigEndian.Uint64(k[len(k)-16:])
		off := int64(binary.BigEndian.Uint64(k[len(k)-8:]))
		n, _ := binary.Uvarint(it.Value())
		b, err := s.readRef(c, fid, off, int64(n), buf)
		if err == nil {
			return b, nil
		}
		if first == nil {
			first = err
		}
	}
	if first != nil {
		return nil, first
	}
	return nil, blockErr("get", c, ErrNotFound)
}

// readRef reads one leaf kept by reference into buf (or a new buffer if
// buf is too small) and verifies it: by hash, or, for a trusted file, by
// its stamp, taken from the open file after the read.
func (s *Store) readRef(c cid.Cid, fid uint64, off, n int64, buf []byte) ([]byte, error) {
	if n > MaxBlockSize {
		return nil, blockErr("get", c, fmt.Errorf("%w: %d bytes", ErrTooLarge, n))
	}
	v, err := s.db.Get(idKey(pFile, fid), nil)
	if err != nil {
		return nil, blockErr("get", c, fmt.Errorf("file record %d: %w", fid, err))
	}
	rec, err := decodeFileRecord(v)
	if err != nil {
		return nil, blockErr("get", c, err)
	}
	f, err := os.Open(rec.Path)
	if err != nil {
		return nil, blockErr("get", c, fmt.Errorf("%w: %s: %v", ErrSourceMissing, rec.Path, err))
	}
	defer f.Close()
	if int64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, rerr := f.ReadAt(buf, off)
	// A trusted file still at its recorded stamp after the read holds the
	// bytes that were hashed: every write sets the change time, which only
	// moves forward, so a write before or during the read would show. One
	// fstat after the read is enough.
	if rerr == nil && rec.Trusted {
		if st, id, err := stamp(f); err == nil && id && st == rec.stamp() {
			return buf, nil
		}
	}
	if rerr == nil {
		if h := s.hooks.hashRef; h != nil {
			h(c)
		}
		if Verify(c, buf) == nil {
			return buf, nil
		}
	}
	changed := !rec.Complete
	if st, _, err := stamp(f); err == nil && rec.Complete {
		changed = st.Size != rec.Size || st.MTime != rec.MTime || (rec.Trusted && st != rec.stamp())
	}
	if changed {
		return nil, blockErr("get", c, fmt.Errorf("%w: %s (offset %d)", ErrSourceChanged, rec.Path, off))
	}
	if rerr != nil {
		return nil, blockErr("get", c, fmt.Errorf("%w: %s: %v", ErrHashMismatch, rec.Path, rerr))
	}
	return nil, blockErr("get", c, fmt.Errorf("%w: %s (offset %d)", ErrHashMismatch, rec.Path, off))
}

// Cat streams the file at root (kept or not, if its blocks are here) to w.
func (s *Store) Cat(ctx context.Context, root cid.Cid, w io.Writer) (int64, error) {
	return WriteFile(ctx, s, root, w)
}

// Export writes the file or directory at root to dst (which must not exist).
func (s *Store) Export(ctx context.Context, root cid.Cid, dst string) error {
	return WriteTree(ctx, s, root, dst)
}

// Leaves returns the layout (files and leaves in order) of a root whose
// internal nodes are in the store.
func (s *Store) Leaves(ctx context.Context, root cid.Cid) (*Layout, error) {
	l, err := buildLayout(ctx, root, s.getNode)
	if err != nil {
		return nil, fmt.Errorf("leaves of %s: %w", root, err)
	}
	return l, nil
}

// getNode returns a verified dag-pb node from the index, or errNodeMissing.
func (s *Store) getNode(c cid.Cid) ([]byte, error) {
	v, err := s.db.Get(plainCidKey(pNode, c), nil)
	if errors.Is(err, leveldb.ErrNotFound) {
		return nil, errNodeMissing
	}
	if err != nil {
		return nil, blockErr("get", c, err)
	}
	if err := Verify(c, v); err != nil {
		return nil, err
	}
	return v, nil
}
