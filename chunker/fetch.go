package chunker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/ipfs/go-cid"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// Errors of the fetch API.
var (
	ErrAlreadyKept   = errors.New("root is already kept")
	ErrDestExists    = errors.New("destination already exists")
	ErrLayoutUnknown = errors.New("leaves not known yet: internal nodes are missing")
	ErrNotWanted     = errors.New("block is not wanted by this fetch")
	ErrIncomplete    = errors.New("fetch is not complete")
	ErrFetchClosed   = errors.New("fetch is finished or aborted")
)

// Fetch is an incoming root being downloaded straight into its
// destination. Internal nodes go to the index; leaf bytes are written once,
// at their offset in the destination files, and recorded as references, so
// the destination is both the output and the store. All methods are safe
// for concurrent use: many goroutines may call PutLeaf at once.
//
// The flow: PutNode for each CID in Missing until Layout is known (a root
// that is one raw block is known at once), then PutLeaf for each index not
// yet in Have, then Finish. A Fetch interrupted by a crash is reopened with
// StartFetch(root, "") and knows, after re-verifying them, which leaves are
// already on disk.
type Fetch struct {
	s     *Store
	root  cid.Cid
	dest  string
	owner uint64

	life   sync.RWMutex // PutNode/PutLeaf hold it shared; Finish/Abort exclusively
	closed bool

	mu      sync.Mutex
	layout  *Layout
	missing []cid.Cid
	nodes   int // dag-pb nodes in the DAG, once the layout is known
	have    []bool
	nhave   int
	byCid   map[cid.Cid][]int // leaf indices by CID (a CID can repeat)
	files   []*os.File        // per Layout.Files index; nil for directories and symlinks
	direct  []*os.File        // the same files opened for direct writes; nil where not offered
	fileIDs []uint64
}

// IncomingInfo is a fetch recorded in the store but not finished.
type IncomingInfo struct {
	Root cid.Cid
	Dest string
}

// FetchOptions tune StartFetch.
type FetchOptions struct {
	// Force lets Finish replace a destination that exists by then.
	Force bool
}

// StartFetch begins (or resumes) fetching root into dest. A fresh fetch
// needs a dest that does not exist yet; its parent directories are
// created. To resume after a restart, pass dest "" (or the same path).
// Calling it again for a root being fetched returns the same *Fetch.
func (s *Store) StartFetch(root cid.Cid, dest string, opts FetchOptions) (*Fetch, error) {
	if err := checkCID(root); err != nil {
		return nil, fmt.Errorf("start fetch: %w", err)
	}
	if dest != "" {
		abs, err := filepath.Abs(dest)
		if err != nil {
			return nil, fmt.Errorf("start fetch %s: %w", root, err)
		}
		dest = abs
	}
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	if f := s.fetches[root]; f != nil {
		if dest != "" && dest != f.dest {
			return nil, fmt.Errorf("start fetch %s: already fetching into %s", root, f.dest)
		}
		return f, nil
	}
	if _, err := s.rootRecord(root); err == nil {
		return nil, fmt.Errorf("start fetch %s: %w", root, ErrAlreadyKept)
	}
	f := &Fetch{s: s, root: root}
	v, err := s.db.Get(plainCidKey(pIncoming, root), nil)
	switch {
	case err == nil:
		owner, n := binary.Uvarint(v)
		if n <= 0 {
			return nil, fmt.Errorf("start fetch %s: %w: incoming record", root, ErrMalformed)
		}
		f.owner, f.dest = owner, string(v[n:])
		if dest != "" && dest != f.dest {
			return nil, fmt.Errorf("start fetch %s: an interrupted fetch writes to %s, not %s", root, f.dest, dest)
		}
		s.log.Info("resuming fetch", "cid", root, "dest", f.dest)
	case errors.Is(err, leveldb.ErrNotFound):
		if dest == "" {
			return nil, fmt.Errorf("start fetch %s: no destination given", root)
		}
		if _, err := os.Lstat(dest); err == nil {
			return nil, fmt.Errorf("start fetch %s: %w: %s", root, ErrDestExists, dest)
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("start fetch %s: %w", root, err)
		}
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return nil, fmt.Errorf("start fetch %s: %w", root, err)
		}
		f.dest = dest
		id, err := s.newID()
		if err != nil {
			return nil, fmt.Errorf("start fetch %s: %w", root, err)
		}
		b := new(leveldb.Batch)
		b.Put(plainCidKey(pIncoming, root), append(binary.AppendUvarint(nil, id), dest...))
		b.Put(idKey(pPending, id), []byte{pendingFetch})
		if err := s.db.Write(b, &opt.WriteOptions{Sync: true}); err != nil {
			return nil, fmt.Errorf("start fetch %s: %w", root, err)
		}
		f.owner = id
	default:
		return nil, fmt.Errorf("start fetch %s: %w", root, err)
	}
	f.mu.Lock()
	err = f.advance()
	f.mu.Unlock()
	if err != nil {
		f.closeFiles()
		return nil, fmt.Errorf("start fetch %s: %w", root, err)
	}
	s.fetches[root] = f
	return f, nil
}

// Incoming lists the fetches recorded in the store and not finished, so a
// restarted node can resume them.
func (s *Store) Incoming() ([]IncomingInfo, error) {
	it := s.db.NewIterator(util.BytesPrefix([]byte{pIncoming}), nil)
	defer it.Release()
	var out []IncomingInfo
	for it.Next() {
		c, err := cid.Cast(it.Key()[1:])
		if err != nil {
			return nil, fmt.Errorf("list incoming: %w", err)
		}
		_, n := binary.Uvarint(it.Value())
		if n <= 0 {
			return nil, fmt.Errorf("list incoming: %s: %w", c, ErrMalformed)
		}
		out = append(out, IncomingInfo{Root: c, Dest: string(it.Value()[n:])})
	}
	return out, it.Error()
}

// Part is where the data lives until Finish renames it to Dest.
// (Stub: the data is written to Dest itself for now.)
func (f *Fetch) Part() string { return f.dest }

// SetDest changes where Finish puts the verified content (used when the
// name announced by peers is learned after the fetch started).
func (f *Fetch) SetDest(dest string) error {
	return errors.New("set dest: not implemented yet")
}

// Root is the CID being fetched; Dest where it is written.
func (f *Fetch) Root() cid.Cid { return f.root }

// Dest is the destination path (a file, or a directory for a directory root).
func (f *Fetch) Dest() string { return f.dest }

// Missing lists the dag-pb nodes needed before the leaves are known; empty
// once Layout is known.
func (f *Fetch) Missing() []cid.Cid {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]cid.Cid(nil), f.missing...)
}

// Layout returns the files and ordered leaves, or nil while nodes are
// missing. The result must not be modified.
func (f *Fetch) Layout() *Layout {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.layout
}

// Have returns which leaves are on disk (verified), by index.
func (f *Fetch) Have() []bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]bool(nil), f.have...)
}

// Progress returns leaves present and leaves in total (0, 0 while the
// layout is unknown).
func (f *Fetch) Progress() (have, total int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nhave, len(f.have)
}

// Complete reports whether every leaf is on disk.
func (f *Fetch) Complete() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.layout != nil && f.nhave == len(f.have)
}

// PutNode accepts an internal (dag-pb) node listed by Missing: it is
// verified against c, decoded, and kept in the index. A node that does not
// hash to c is a *BlockError wrapping ErrHashMismatch; an unrequested one
// is ErrNotWanted.
func (f *Fetch) PutNode(c cid.Cid, data []byte) error {
	f.life.RLock()
	defer f.life.RUnlock()
	if f.closed {
		return ErrFetchClosed
	}
	if err := Verify(c, data); err != nil {
		return err
	}
	if c.Type() != CodecDagPB {
		return blockErr("put node", c, fmt.Errorf("%w: not dag-pb", ErrNotWanted))
	}
	if _, err := decodeNode(c, data); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.layout != nil {
		return nil // a late duplicate
	}
	wanted := false
	for _, m := range f.missing {
		if m == c {
			wanted = true
			break
		}
	}
	if !wanted {
		if ok, _ := f.s.db.Has(plainCidKey(pNode, c), nil); ok {
			return nil // already here (a node repeated in the DAG)
		}
		return blockErr("put node", c, ErrNotWanted)
	}
	w := &ownedBatch{s: f.s, owner: f.owner}
	if err := w.node(c, data); err != nil {
		return err
	}
	if err := w.flush(false); err != nil {
		return err
	}
	return f.advance()
}

// advance recomputes the layout from the nodes in the store, taking
// ownership of each node it visits; when complete, it prepares the
// destination. Called with f.mu held.
func (f *Fetch) advance() error {
	w := &ownedBatch{s: f.s, owner: f.owner}
	nodes := 0
	lookup := func(c cid.Cid) ([]byte, error) {
		b, err := f.s.getNode(c)
		if err == nil {
			nodes++
			err = w.node(c, b)
		}
		return b, err
	}
	l, err := buildLayout(context.Background(), f.root, lookup)
	if ferr := w.flush(false); ferr != nil {
		return ferr
	}
	var me *MissingError
	if errors.As(err, &me) {
		f.missing = f.missing[:0]
		seen := make(map[cid.Cid]bool, len(me.Cids))
		for _, c := range me.Cids {
			if !seen[c] {
				seen[c] = true
				f.missing = append(f.missing, c)
			}
		}
		return nil
	}
	if err != nil {
		return err
	}
	f.missing, f.nodes = nil, nodes
	return f.prepare(l)
}

// prepare creates the destination tree, opens the files, and finds the
// leaves already on disk from an earlier run (re-verifying each).
func (f *Fetch) prepare(l *Layout) error {
	known := map[string]uint64{} // path -> file id, from an earlier run
	it := f.s.db.NewIterator(util.BytesPrefix(idKey(pOwnerFile, f.owner)), nil)
	for it.Next() {
		fid := binary.BigEndian.Uint64(it.Key()[9:])
		if v, err := f.s.db.Get(idKey(pFile, fid), nil); err == nil {
			if rec, err := decodeFileRecord(v); err == nil {
				known[rec.Path] = fid
			}
		}
	}
	it.Release()
	if err := it.Error(); err != nil {
		return err
	}

	f.files = make([]*os.File, len(l.Files))
	f.direct = make([]*os.File, len(l.Files))
	f.fileIDs = make([]uint64, len(l.Files))
	w := &ownedBatch{s: f.s, owner: f.owner}
	for i, fe := range l.Files {
		target := filepath.Join(f.dest, filepath.FromSlash(fe.Path))
		switch {
		case fe.Dir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case fe.Symlink != "":
			if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) {
				if err := os.Symlink(fe.Symlink, target); err != nil {
					return err
				}
			}
		default:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			fh, err := os.OpenFile(target, os.O_RDWR|os.O_CREATE, 0o644)
			if err != nil {
				return err
			}
			f.files[i] = fh
			if d, err := openDirect(target); err == nil { // else: no direct I/O here
				f.direct[i] = d
			}
			if fe.Size >= 0 {
				if st, err := fh.Stat(); err != nil {
					return err
				} else if st.Size() != fe.Size {
					if err := fh.Truncate(fe.Size); err != nil {
						return err
					}
				}
			}
			fid, ok := known[target]
			if !ok {
				if fid, err = f.s.newID(); err != nil {
					return err
				}
				rec := fileRecord{Owner: f.owner, Path: target}
				w.b.Put(idKey(pFile, fid), rec.encode())
				w.b.Put(ownerFileKey(f.owner, fid), nil)
			}
			f.fileIDs[i] = fid
		}
	}
	if err := w.flush(true); err != nil {
		return err
	}

	f.layout = l
	f.have = make([]bool, len(l.Leaves))
	f.byCid = make(map[cid.Cid][]int, len(l.Leaves))
	at := make(map[[2]int64]int, len(l.Leaves)) // (file, offset) -> leaf
	// Empty leaves need no bytes: the empty block is kept in the index.
	empty := sumCID(CodecRaw, nil)
	for i, lf := range l.Leaves {
		f.byCid[lf.Cid] = append(f.byCid[lf.Cid], i)
		at[[2]int64{int64(lf.File), lf.Offset}] = i
		if lf.Size == 0 && lf.Cid == empty {
			f.have[i] = true
			f.nhave++
		}
	}
	if len(f.byCid[empty]) > 0 {
		if err := w.node(empty, nil); err != nil {
			return err
		}
		if err := w.flush(false); err != nil {
			return err
		}
	}
	resumed := f.nhave
	// Leaves recorded by an earlier run count only if their bytes verify.
	drop := new(leveldb.Batch)
	for fi, fid := range f.fileIDs {
		if f.files[fi] == nil {
			continue
		}
		lit := f.s.db.NewIterator(util.BytesPrefix(idKey(pFileLeaf, fid)), nil)
		for lit.Next() {
			off := int64(binary.BigEndian.Uint64(lit.Key()[9:]))
			c, err := cid.Cast(lit.Value())
			i, ok := at[[2]int64{int64(fi), off}]
			if err == nil && ok && l.Leaves[i].Cid == c && !f.have[i] && f.verifyOnDisk(i, fid) {
				f.have[i] = true
				f.nhave++
				continue
			}
			if err == nil && ok && f.have[i] {
				continue
			}
			drop.Delete(append([]byte(nil), lit.Key()...))
			if err == nil {
				drop.Delete(leafLocKey(c, fid, off))
			}
		}
		lit.Release()
		if err := lit.Error(); err != nil {
			return err
		}
	}
	if drop.Len() > 0 {
		if err := f.s.db.Write(drop, nil); err != nil {
			return err
		}
	}
	if f.nhave > resumed {
		f.s.log.Info("fetch resumes with leaves on disk", "cid", f.root, "have", f.nhave, "total", len(f.have))
	}
	return nil
}

// verifyOnDisk reads leaf i from its file and checks it against its CID.
func (f *Fetch) verifyOnDisk(i int, fid uint64) bool {
	lf := &f.layout.Leaves[i]
	n := lf.Size
	if n < 0 {
		v, err := f.s.db.Get(leafLocKey(lf.Cid, fid, lf.Offset), nil)
		if err != nil {
			return false
		}
		u, k := binary.Uvarint(v)
		if k <= 0 || u > MaxBlockSize {
			return false
		}
		n = int64(u)
	}
	buf := make([]byte, n)
	if _, err := f.files[lf.File].ReadAt(buf, lf.Offset); err != nil {
		return false
	}
	if Verify(lf.Cid, buf) != nil {
		return false
	}
	if lf.Size < 0 {
		f.setRawRootSize(n)
	}
	return true
}

// setRawRootSize records the length of a root that is one raw block once
// its bytes are known.
func (f *Fetch) setRawRootSize(n int64) {
	f.layout.Leaves[0].Size = n
	f.layout.Files[0].Size = n
	f.layout.Size = n
}

// PutLeaf verifies data against leaf i's CID and writes it at its offset
// in the destination (and at every other index with the same CID), then
// records the reference. Data that does not hash to the CID is a
// *BlockError wrapping ErrHashMismatch and nothing is written. A leaf
// already present is accepted and ignored.
func (f *Fetch) PutLeaf(i int, data []byte) error {
	f.life.RLock()
	defer f.life.RUnlock()
	if f.closed {
		return ErrFetchClosed
	}
	f.mu.Lock()
	if f.layout == nil {
		f.mu.Unlock()
		return ErrLayoutUnknown
	}
	if i < 0 || i >= len(f.have) {
		f.mu.Unlock()
		return fmt.Errorf("put leaf: index %d out of range [0, %d)", i, len(f.have))
	}
	lf := f.layout.Leaves[i]
	done := f.have[i]
	f.mu.Unlock()
	if done {
		return nil
	}
	if err := Verify(lf.Cid, data); err != nil {
		return err
	}
	if lf.Size >= 0 && int64(len(data)) != lf.Size {
		return blockErr("put leaf", lf.Cid, fmt.Errorf("%w: %d bytes, the DAG declares %d", ErrMalformed, len(data), lf.Size))
	}
	idx := f.byCid[lf.Cid]
	w := &ownedBatch{s: f.s, owner: f.owner}
	for _, j := range idx {
		o := f.layout.Leaves[j]
		if err := f.writeLeafAt(o.File, data, o.Offset); err != nil {
			return fmt.Errorf("put leaf %d: %w", j, err)
		}
		if err := w.leafRef(o.Cid, f.fileIDs[o.File], o.Offset, len(data)); err != nil {
			return err
		}
	}
	if err := w.flush(false); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if lf.Size < 0 {
		f.setRawRootSize(int64(len(data)))
	}
	for _, j := range idx {
		if !f.have[j] {
			f.have[j] = true
			f.nhave++
		}
	}
	return nil
}

// Finish makes the root a kept root served from the destination: files
// are synced, their size and modification time recorded, and the
// incoming record replaced by the root in one synced batch.
func (f *Fetch) Finish() (RootInfo, error) {
	f.life.Lock()
	defer f.life.Unlock()
	if f.closed {
		return RootInfo{}, ErrFetchClosed
	}
	if !f.Complete() {
		return RootInfo{}, fmt.Errorf("finish %s: %w", f.root, ErrIncomplete)
	}
	w := &ownedBatch{s: f.s, owner: f.owner}
	for i, fh := range f.files {
		if fh == nil {
			continue
		}
		if err := fh.Sync(); err != nil {
			return RootInfo{}, fmt.Errorf("finish %s: %w", f.root, err)
		}
		st, err := fh.Stat()
		if err != nil {
			return RootInfo{}, fmt.Errorf("finish %s: %w", f.root, err)
		}
		rec := fileRecord{Owner: f.owner, Complete: true, Size: st.Size(), MTime: st.ModTime().UnixNano(), Path: fh.Name()}
		w.b.Put(idKey(pFile, f.fileIDs[i]), rec.encode())
	}
	kind := byte(kindFile)
	if f.layout.Files[0].Dir {
		kind = kindDir
	} else if f.layout.Files[0].Symlink != "" {
		kind = kindSymlink
	}
	info := RootInfo{Cid: f.root, Size: uint64(max(f.layout.Size, 0)), Blocks: uint64(f.nodes + len(f.layout.Leaves)), Dir: kind == kindDir}
	rec := rootRecord{Owner: f.owner, Size: info.Size, Blocks: info.Blocks, Kind: kind}
	w.b.Put(plainCidKey(pRoot, f.root), rec.encode())
	w.b.Delete(plainCidKey(pIncoming, f.root))
	w.b.Delete(idKey(pPending, f.owner))
	if err := w.flush(true); err != nil {
		return RootInfo{}, fmt.Errorf("finish %s: %w", f.root, err)
	}
	f.closeLocked()
	f.s.log.Info("fetched", "cid", f.root, "dest", f.dest, "size", info.Size)
	return info, nil
}

// Abort stops the fetch and forgets it: its nodes and references are
// released. Bytes already written stay there (keepPartial is a stub).
func (f *Fetch) Abort(keepPartial bool) error {
	f.life.Lock()
	defer f.life.Unlock()
	if f.closed {
		return ErrFetchClosed
	}
	f.closeLocked()
	if err := f.s.release(f.owner, [][]byte{plainCidKey(pIncoming, f.root)}); err != nil {
		return fmt.Errorf("abort fetch %s: %w", f.root, err)
	}
	return nil
}

func (f *Fetch) closeLocked() {
	f.closed = true
	f.closeFiles()
	f.s.fetchMu.Lock()
	if f.s.fetches[f.root] == f {
		delete(f.s.fetches, f.root)
	}
	f.s.fetchMu.Unlock()
}

func (f *Fetch) closeFiles() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, fh := range f.files {
		if fh != nil {
			fh.Close()
			f.files[i] = nil
		}
	}
	for i, fh := range f.direct {
		if fh != nil {
			fh.Close()
			f.direct[i] = nil
		}
	}
}
