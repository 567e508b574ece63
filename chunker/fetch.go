package chunker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

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
	// ErrDestBusy: another fetch writes to the same partial path.
	ErrDestBusy = errors.New("another fetch writes there")
	// ErrNotIncoming: DropIncoming of a root that is not being fetched.
	ErrNotIncoming = errors.New("root is not being fetched")
)

// partSuffix ends the name of a partial file or directory.
const partSuffix = ".myco-part"

// PartPath returns where the data of a fetch into dest lives until it is
// complete: a hidden name beside dest (/x/big.bin -> /x/.big.bin.myco-part).
func PartPath(dest string) string {
	return filepath.Join(filepath.Dir(dest), "."+filepath.Base(dest)+partSuffix)
}

// Fetch is an incoming root being downloaded. Internal nodes go to the
// index; leaf bytes are written once, at their offset in files under the
// partial path (Part), and recorded as references, so the partial data is
// both the output and the store. Finish syncs it and renames it to Dest.
// All methods are safe for concurrent use: many goroutines may call PutLeaf
// at once.
//
// The flow: PutNode for each CID in Missing until Layout is known (a root
// that is one raw block is known at once), then PutLeaf for each index not
// yet in Have, then Finish (or Abort). A Fetch interrupted by a crash is
// reopened with StartFetch(root, "") and knows, after re-verifying them,
// which leaves are already on disk.
type Fetch struct {
	s    *Store
	root cid.Cid
	part string // fixed for the fetch's life

	// ready is closed once StartFetch's work is done; startErr says
	// whether it failed (then the Fetch was never handed out).
	ready    chan struct{}
	startErr error

	life   sync.RWMutex // PutNode/PutLeaf/SetDest hold it shared; Finish/Abort exclusively
	closed atomic.Bool  // set under life held exclusively

	mu       sync.Mutex
	dest     string
	force    bool
	owner    uint64
	resuming bool // opened from a record of an earlier run
	// atDest: the data lives at dest, not at part: an earlier run was
	// interrupted between Finish's rename and its commit (see prepare),
	// or this Finish got past its rename.
	atDest  bool
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
	Dest string // where Finish will put it
	Part string // where its data lives meanwhile
}

// FetchOptions tune StartFetch.
type FetchOptions struct {
	// Force lets Finish replace a destination that exists by then.
	Force bool
}

// StartFetch begins (or resumes) fetching root into dest; the data is
// written to Part (PartPath(dest)) and renamed to dest by Finish.
//
// A fresh fetch needs a dest that does not exist yet unless opts.Force;
// its parent directories are created, and a stale partial left at its
// partial path (by an Abort with keepPartial, or a fetch forgotten since)
// is removed: the fetch starts clean.
//
// To resume a fetch recorded by an earlier run, pass dest "": the
// recorded destination, partial path and Force apply. A non-empty dest for
// a recorded fetch replaces its destination and Force, as SetDest would;
// the partial path stays. A root being fetched by this Store already
// returns the same *Fetch (an error if dest names another destination).
//
// The slow part (re-reading and re-hashing what an earlier run left on
// disk, reserving the files' space) runs without any store-wide lock: only
// calls for the same root wait for it. A StartFetch that fails leaves no
// fetch registered; a fresh one also leaves nothing in the index or on
// disk, a resumed one leaves its record for a later retry (or
// DropIncoming).
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
	for {
		f, mine, fresh, rec, err := s.registerFetch(root, dest, opts)
		if err != nil {
			return nil, fmt.Errorf("start fetch %s: %w", root, err)
		}
		if !mine { // registered by an earlier call: wait until it is ready
			<-f.ready
			if f.closed.Load() {
				continue // finished, aborted or dropped meanwhile: look again
			}
			if f.startErr != nil {
				return nil, f.startErr
			}
			if d := f.Dest(); dest != "" && dest != d {
				return nil, fmt.Errorf("start fetch %s: %w: already fetching into %s", root, ErrDestBusy, d)
			}
			return f, nil
		}
		err = f.start(fresh, rec)
		if err != nil {
			err = fmt.Errorf("start fetch %s: %w", root, err)
			f.startErr = err
			f.closeFiles()
			s.unregister(f)
		}
		close(f.ready)
		if err != nil {
			return nil, err
		}
		return f, nil
	}
}

// registerFetch returns the fetch of root registered already (mine
// false: wait for its ready), or registers a placeholder for the caller
// to start (mine true; fresh, or resuming rec). Only index reads happen
// under fetchMu.
func (s *Store) registerFetch(root cid.Cid, dest string, opts FetchOptions) (f *Fetch, mine, fresh bool, rec *incomingRecord, err error) {
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	if f := s.fetches[root]; f != nil {
		return f, false, false, nil, nil
	}
	if _, err := s.rootRecord(root); err == nil {
		return nil, false, false, nil, ErrAlreadyKept
	}
	f = &Fetch{s: s, root: root, ready: make(chan struct{})}
	v, err := s.db.Get(plainCidKey(pIncoming, root), nil)
	switch {
	case err == nil:
		r, err := decodeIncomingRecord(v)
		if err != nil {
			return nil, false, false, nil, err
		}
		rec = &r
		f.part = r.Part
		if r.Legacy {
			f.part = PartPath(r.Dest)
		}
		f.dest, f.force = r.Dest, r.Force
		if dest != "" && dest != r.Dest {
			f.dest, f.force = dest, opts.Force
		}
	case errors.Is(err, leveldb.ErrNotFound):
		if dest == "" {
			return nil, false, false, nil, errors.New("no destination given")
		}
		fresh = true
		f.dest, f.force, f.part = dest, opts.Force, PartPath(dest)
		// A fetch recorded but not running may own the same partial path.
		if other, ok := s.incomingAt(f.part); ok {
			return nil, false, false, nil, fmt.Errorf("%w: %s is fetching into %s", ErrDestBusy, other.Root, other.Dest)
		}
	default:
		return nil, false, false, nil, err
	}
	for _, o := range s.fetches {
		// o.part is fixed; o.mu may be held for a long verification.
		if o.part == f.part {
			return nil, false, false, nil, fmt.Errorf("%w: %s is fetching via %s", ErrDestBusy, o.root, o.part)
		}
	}
	s.fetches[root] = f
	return f, true, fresh, rec, nil
}

func (s *Store) unregister(f *Fetch) {
	s.fetchMu.Lock()
	if s.fetches[f.root] == f {
		delete(s.fetches, f.root)
	}
	s.fetchMu.Unlock()
}

// start does the slow part of StartFetch for a registered placeholder:
// it records a fresh fetch (or migrates and updates a resumed one), then
// walks the nodes present and prepares the partial data.
func (f *Fetch) start(fresh bool, rec *incomingRecord) error {
	s := f.s
	f.mu.Lock()
	defer f.mu.Unlock()
	if fresh {
		if _, err := os.Lstat(f.dest); err == nil && !f.force {
			return fmt.Errorf("%w: %s", ErrDestExists, f.dest)
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(f.part), 0o755); err != nil {
			return wrapNoSpace(err)
		}
		if err := os.RemoveAll(f.part); err != nil {
			return fmt.Errorf("remove stale partial data: %w", err)
		}
		id, err := s.newID()
		if err != nil {
			return err
		}
		f.owner = id
		b := new(leveldb.Batch)
		b.Put(idKey(pPending, id), []byte{pendingFetch})
		b.Put(plainCidKey(pIncoming, f.root), f.record().encode())
		if err := s.db.Write(b, &opt.WriteOptions{Sync: true}); err != nil {
			return err
		}
		if err := f.advance(); err != nil {
			f.closeFilesLocked()
			if rerr := s.release(f.owner, [][]byte{plainCidKey(pIncoming, f.root)}); rerr != nil {
				s.log.Error("releasing a failed fetch", "cid", f.root, "err", rerr)
			}
			if rerr := os.RemoveAll(f.part); rerr != nil {
				s.log.Error("removing the partial data of a failed fetch", "cid", f.root, "err", rerr)
			}
			return err
		}
		return nil
	}
	f.owner, f.resuming = rec.Owner, true
	if rec.Legacy {
		if err := f.migrateLegacy(rec.Dest); err != nil {
			return fmt.Errorf("migrate the fetch record: %w", err)
		}
	}
	if rec.Legacy || f.dest != rec.Dest || f.force != rec.Force {
		if err := s.db.Put(plainCidKey(pIncoming, f.root), f.record().encode(), &opt.WriteOptions{Sync: true}); err != nil {
			return err
		}
	}
	s.log.Info("resuming fetch", "cid", f.root, "dest", f.dest, "part", f.part)
	return f.advance()
}

// record is the incoming record of f. Called with f.mu held.
func (f *Fetch) record() incomingRecord {
	return incomingRecord{Owner: f.owner, Dest: f.dest, Part: f.part, Force: f.force}
}

// migrateLegacy moves the data of a fetch recorded by a version that
// wrote in place: what is at dest is that fetch's unfinished output (it
// refused an existing dest), so it becomes the partial data, and the file
// records follow it. Its leaves are re-verified like any resumed ones.
//
// It can be interrupted at any point: the data is moved only if the
// partial path is still free, and the file records are rewritten every
// time (a record naming the partial path already is left as it is).
func (f *Fetch) migrateLegacy(dest string) error {
	if _, err := os.Lstat(f.part); errors.Is(err, os.ErrNotExist) {
		if _, err := os.Lstat(dest); err == nil {
			if err := os.Rename(dest, f.part); err != nil {
				return err
			}
			f.s.log.Info("moved an unfinished fetch's data to its partial path", "cid", f.root, "from", dest, "to", f.part)
		}
	}
	b := new(leveldb.Batch)
	it := f.s.db.NewIterator(util.BytesPrefix(idKey(pOwnerFile, f.owner)), nil)
	for it.Next() {
		fid := binary.BigEndian.Uint64(it.Key()[9:])
		v, err := f.s.db.Get(idKey(pFile, fid), nil)
		if err != nil {
			continue
		}
		rec, err := decodeFileRecord(v)
		if err != nil {
			continue
		}
		if rel, ok := under(dest, rec.Path); ok {
			rec.Path = filepath.Join(f.part, rel)
			b.Put(idKey(pFile, fid), rec.encode())
		}
	}
	it.Release()
	if err := it.Error(); err != nil {
		return err
	}
	return f.s.db.Write(b, &opt.WriteOptions{Sync: true})
}

// under returns p relative to base if p is base or below it.
func under(base, p string) (string, bool) {
	if p == base {
		return ".", true
	}
	if rest, ok := strings.CutPrefix(p, base+string(filepath.Separator)); ok {
		return rest, true
	}
	return "", false
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
		r, err := decodeIncomingRecord(it.Value())
		if err != nil {
			return nil, fmt.Errorf("list incoming: %s: %w", c, err)
		}
		if r.Legacy {
			r.Part = PartPath(r.Dest)
		}
		out = append(out, IncomingInfo{Root: c, Dest: r.Dest, Part: r.Part})
	}
	return out, it.Error()
}

// incomingAt returns the recorded fetch whose partial path is part, if
// any. Records that do not decode are skipped (Incoming reports them).
func (s *Store) incomingAt(part string) (IncomingInfo, bool) {
	it := s.db.NewIterator(util.BytesPrefix([]byte{pIncoming}), nil)
	defer it.Release()
	for it.Next() {
		r, err := decodeIncomingRecord(it.Value())
		if err != nil {
			continue
		}
		if r.Legacy {
			r.Part = PartPath(r.Dest)
		}
		if r.Part == part {
			c, _ := cid.Cast(it.Key()[1:])
			return IncomingInfo{Root: c, Dest: r.Dest, Part: r.Part}, true
		}
	}
	return IncomingInfo{}, false
}

// DropIncoming forgets the fetch of root, as Abort does, whether or not it
// is running: its nodes and references are released and its partial data
// removed unless keepPartial. It is the way out for a recorded fetch that
// cannot be resumed (StartFetch(root, "") fails). It never touches the
// destination. ErrNotIncoming if root is not being fetched.
func (s *Store) DropIncoming(root cid.Cid, keepPartial bool) error {
	s.fetchMu.Lock()
	if f := s.fetches[root]; f != nil {
		s.fetchMu.Unlock()
		<-f.ready
		if f.startErr == nil && !f.closed.Load() {
			err := f.Abort(keepPartial)
			if err == nil {
				return nil
			}
			if !errors.Is(err, ErrFetchClosed) {
				return fmt.Errorf("drop fetch %s: %w", root, err)
			}
		}
		// A start that failed, or a fetch closed meanwhile: look again.
		return s.DropIncoming(root, keepPartial)
	}
	v, err := s.db.Get(plainCidKey(pIncoming, root), nil)
	if errors.Is(err, leveldb.ErrNotFound) {
		s.fetchMu.Unlock()
		return fmt.Errorf("drop fetch %s: %w", root, ErrNotIncoming)
	}
	if err != nil {
		s.fetchMu.Unlock()
		return fmt.Errorf("drop fetch %s: %w", root, err)
	}
	rec, err := decodeIncomingRecord(v)
	if err != nil {
		// Nothing can resume it: forget the record (its owner's index
		// entries stay, unreachable).
		defer s.fetchMu.Unlock()
		s.log.Warn("dropping an incoming record that does not decode", "cid", root, "err", err)
		if err := s.db.Delete(plainCidKey(pIncoming, root), &opt.WriteOptions{Sync: true}); err != nil {
			return fmt.Errorf("drop fetch %s: %w", root, err)
		}
		return nil
	}
	// A placeholder keeps StartFetch of root away while the index is
	// cleaned, without holding fetchMu.
	f := &Fetch{s: s, root: root, ready: make(chan struct{}), owner: rec.Owner, part: rec.Part}
	if rec.Legacy {
		f.part = PartPath(rec.Dest)
	}
	f.startErr = fmt.Errorf("start fetch %s: %w", root, ErrFetchClosed)
	f.closed.Store(true)
	s.fetches[root] = f
	s.fetchMu.Unlock()
	defer func() {
		s.unregister(f)
		close(f.ready)
	}()
	if err := s.release(rec.Owner, [][]byte{plainCidKey(pIncoming, root)}); err != nil {
		return fmt.Errorf("drop fetch %s: %w", root, err)
	}
	if !keepPartial && !rec.Legacy {
		if err := os.RemoveAll(f.part); err != nil {
			return fmt.Errorf("drop fetch %s: remove partial data: %w", root, err)
		}
	}
	s.log.Info("fetch dropped", "cid", root, "kept_partial", keepPartial)
	return nil
}

// Part is where the data lives until Finish renames it to Dest: a file,
// or a directory for a directory root. It never changes during a fetch,
// and is the recorded one after a resume. Once Finish has renamed it (or a
// resume found the content already at Dest), nothing is there.
func (f *Fetch) Part() string { return f.part }

// SetDest changes where Finish puts the verified content (used when the
// name announced by peers is learned after the fetch started). The new
// destination is recorded, so a resumed fetch keeps it; the partial data
// does not move, and the new path is checked only by Finish (which renames
// the partial data there, so it must be on the same file system). A
// relative path is made absolute against the working directory. It fails
// once the fetch is finished or aborted (ErrFetchClosed), or when Finish
// already moved the content to the previous destination.
func (f *Fetch) SetDest(dest string) error {
	if dest == "" {
		return fmt.Errorf("set dest of %s: empty path", f.root)
	}
	abs, err := filepath.Abs(dest)
	if err != nil {
		return fmt.Errorf("set dest of %s: %w", f.root, err)
	}
	if abs == f.part {
		return fmt.Errorf("set dest of %s: %s is the partial path", f.root, abs)
	}
	f.life.RLock()
	defer f.life.RUnlock()
	if f.closed.Load() {
		return ErrFetchClosed
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dest == abs {
		return nil
	}
	if f.atDest {
		return fmt.Errorf("set dest of %s: the content is at %s already", f.root, f.dest)
	}
	old := f.dest
	f.dest = abs
	if err := f.s.db.Put(plainCidKey(pIncoming, f.root), f.record().encode(), &opt.WriteOptions{Sync: true}); err != nil {
		f.dest = old
		return fmt.Errorf("set dest of %s: %w", f.root, err)
	}
	f.s.log.Info("fetch destination changed", "cid", f.root, "dest", abs)
	return nil
}

// Root is the CID being fetched.
func (f *Fetch) Root() cid.Cid { return f.root }

// Dest is where Finish puts the content (a file, or a directory for a
// directory root): the path given to StartFetch, the recorded one after a
// resume, or the last SetDest.
func (f *Fetch) Dest() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dest
}

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
	if f.closed.Load() {
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
// partial data. Called with f.mu held.
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
	// Until prepare succeeds the last node stays missing, so that sending
	// it again (after space was freed, say) retries.
	if err := f.prepare(l); err != nil {
		return wrapNoSpace(err)
	}
	f.missing, f.nodes = nil, nodes
	return nil
}

// prepare creates the partial tree, opens its files and reserves their
// size, and finds the leaves already on disk from an earlier run
// (re-verifying each). Called with f.mu held.
//
// A resumed fetch whose partial data is gone while its destination exists
// was interrupted between Finish's rename and its commit, or someone
// removed the partial data and put something at the destination. The
// destination is then re-read without being written to: if every leaf
// verifies, it is the fetched content (atDest) and Finish only commits it;
// otherwise it is left alone and the fetch starts its partial data afresh
// (and Finish will find the destination taken).
func (f *Fetch) prepare(l *Layout) (err error) {
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

	if f.resuming && !f.atDest {
		if _, err := os.Lstat(f.part); errors.Is(err, os.ErrNotExist) {
			if _, err := os.Lstat(f.dest); err == nil {
				if h := f.s.hooks.verifyOnDisk; h != nil {
					h(f.root)
				}
				if f.verifyDest(l) {
					f.atDest = true
					f.s.log.Info("fetch found complete at its destination", "cid", f.root, "dest", f.dest)
				} else {
					f.s.log.Warn("destination exists and is not the fetched content; fetching afresh", "cid", f.root, "dest", f.dest)
				}
			}
		}
	}
	base := f.part
	if f.atDest {
		base = f.dest
	}

	f.files = make([]*os.File, len(l.Files))
	f.direct = make([]*os.File, len(l.Files))
	f.fileIDs = make([]uint64, len(l.Files))
	defer func() {
		if err != nil {
			f.closeFilesLocked()
		}
	}()
	w := &ownedBatch{s: f.s, owner: f.owner}
	for i, fe := range l.Files {
		target := filepath.Join(base, filepath.FromSlash(fe.Path))
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
		case f.atDest:
			// Verified already; opened to sync it, never written.
			fh, err := os.OpenFile(target, os.O_RDWR, 0)
			if err != nil {
				return err
			}
			f.files[i] = fh
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
				st, err := fh.Stat()
				if err != nil {
					return err
				}
				switch {
				case st.Size() < fe.Size:
					if h := f.s.hooks.allocate; h != nil {
						err = wrapNoSpace(h(fh, fe.Size))
					} else {
						err = reserve(fh, fe.Size)
					}
				case st.Size() > fe.Size:
					err = fh.Truncate(fe.Size)
				}
				if err != nil {
					return fmt.Errorf("reserve %d bytes: %w", fe.Size, err)
				}
			}
		}
		if f.files[i] != nil {
			// File records name the partial path while fetching.
			recPath := filepath.Join(f.part, filepath.FromSlash(fe.Path))
			fid, ok := known[recPath]
			if !ok {
				if fid, err = f.s.newID(); err != nil {
					return err
				}
				rec := fileRecord{Owner: f.owner, Path: recPath}
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
	f.nhave = 0
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
	if f.atDest {
		// Every leaf verified at the destination: record them all (the
		// references written before the crash were not all synced).
		for i, lf := range l.Leaves {
			if !f.have[i] {
				f.have[i] = true
				f.nhave++
				if err := w.leafRef(lf.Cid, f.fileIDs[lf.File], lf.Offset, int(lf.Size)); err != nil {
					return err
				}
			}
		}
		return w.flush(false)
	}
	resumed := f.nhave
	if f.resuming {
		if h := f.s.hooks.verifyOnDisk; h != nil {
			h(f.root)
		}
	}
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

// verifyDest reports whether the destination holds root's content in
// full: the same tree, every leaf verifying. It only reads. For a root
// that is one raw block, it fills in the layout's sizes.
func (f *Fetch) verifyDest(l *Layout) bool {
	files := make([]*os.File, len(l.Files))
	defer func() {
		for _, fh := range files {
			if fh != nil {
				fh.Close()
			}
		}
	}()
	sizes := make([]int64, len(l.Files))
	for i, fe := range l.Files {
		p := filepath.Join(f.dest, filepath.FromSlash(fe.Path))
		st, err := os.Lstat(p)
		if err != nil {
			return false
		}
		switch {
		case fe.Dir:
			if !st.IsDir() {
				return false
			}
		case fe.Symlink != "":
			if t, err := os.Readlink(p); err != nil || t != fe.Symlink {
				return false
			}
		default:
			if !st.Mode().IsRegular() || (fe.Size >= 0 && st.Size() != fe.Size) || st.Size() > MaxBlockSize && fe.Size < 0 {
				return false
			}
			if files[i], err = os.Open(p); err != nil {
				return false
			}
			sizes[i] = st.Size()
		}
	}
	for _, lf := range l.Leaves {
		n := lf.Size
		if n < 0 {
			n = sizes[lf.File]
		}
		fh := files[lf.File]
		if fh == nil {
			return false
		}
		buf := make([]byte, n)
		if _, err := fh.ReadAt(buf, lf.Offset); err != nil && n > 0 {
			return false
		}
		if Verify(lf.Cid, buf) != nil {
			return false
		}
	}
	if len(l.Leaves) == 1 && l.Leaves[0].Size < 0 {
		n := sizes[l.Leaves[0].File]
		l.Leaves[0].Size, l.Files[0].Size, l.Size = n, n, n
	}
	return true
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
// in the partial data (and at every other index with the same CID), then
// records the reference. Data that does not hash to the CID is a
// *BlockError wrapping ErrHashMismatch and nothing is written. A leaf
// already present is accepted and ignored.
func (f *Fetch) PutLeaf(i int, data []byte) error {
	f.life.RLock()
	defer f.life.RUnlock()
	if f.closed.Load() {
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
			return fmt.Errorf("put leaf %d: %w", j, wrapNoSpace(err))
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

// Finish makes the root a kept root served from the destination. Every
// file of the partial data is synced (and its directories), the partial
// path is renamed to Dest, and then the root, its file records naming the
// final paths, its name (the base name of Dest), and the removal of the
// incoming record are committed in one synced batch.
//
// If Dest exists by then, Finish fails with ErrDestExists and the fetch
// stays open (SetDest, then Finish again; or Abort), unless the fetch was
// started with Force: then the destination is replaced (a file by a file
// atomically; otherwise the old one is removed first). A crash between the
// rename and the commit is handled when the fetch resumes (see prepare).
func (f *Fetch) Finish() (RootInfo, error) {
	f.life.Lock()
	defer f.life.Unlock()
	if f.closed.Load() {
		return RootInfo{}, ErrFetchClosed
	}
	if !f.Complete() {
		return RootInfo{}, fmt.Errorf("finish %s: %w", f.root, ErrIncomplete)
	}
	// PutLeaf, PutNode and SetDest wait for life: the fields below do
	// not change until it is released.
	f.mu.Lock()
	dest, force, atDest := f.dest, f.force, f.atDest
	f.mu.Unlock()
	base := f.part
	if atDest {
		base = dest
	}
	fail := func(err error) (RootInfo, error) {
		return RootInfo{}, fmt.Errorf("finish %s: %w", f.root, wrapNoSpace(err))
	}
	w := &ownedBatch{s: f.s, owner: f.owner}
	for i, fe := range f.layout.Files {
		if fe.Dir || fe.Symlink != "" {
			continue
		}
		if fh := f.files[i]; fh != nil {
			if err := fh.Sync(); err != nil {
				return fail(err)
			}
		}
		rel := filepath.FromSlash(fe.Path)
		st, err := os.Stat(filepath.Join(base, rel))
		if err != nil {
			return fail(err)
		}
		rec := fileRecord{Owner: f.owner, Complete: true, Size: st.Size(), MTime: st.ModTime().UnixNano(), Path: filepath.Join(dest, rel)}
		w.b.Put(idKey(pFile, f.fileIDs[i]), rec.encode())
	}
	if !atDest {
		for _, fe := range f.layout.Files {
			if fe.Dir {
				if err := syncDir(filepath.Join(base, filepath.FromSlash(fe.Path))); err != nil {
					return fail(err)
				}
			}
		}
		// Synced; closed before the rename, which some systems refuse on
		// open files. Every leaf is here, so nothing writes them again.
		f.closeFiles()
		if err := f.moveIntoPlace(dest, force); err != nil {
			return fail(err)
		}
		f.mu.Lock()
		f.atDest = true
		f.mu.Unlock()
		if h := f.s.hooks.afterRename; h != nil {
			if err := h(); err != nil {
				return fail(err)
			}
		}
	}
	kind := byte(kindFile)
	if f.layout.Files[0].Dir {
		kind = kindDir
	} else if f.layout.Files[0].Symlink != "" {
		kind = kindSymlink
	}
	info := RootInfo{Cid: f.root, Size: uint64(max(f.layout.Size, 0)), Blocks: uint64(f.nodes + len(f.layout.Leaves)), Dir: kind == kindDir, Name: filepath.Base(dest)}
	rec := rootRecord{Owner: f.owner, Size: info.Size, Blocks: info.Blocks, Kind: kind, Name: info.Name}
	w.b.Put(plainCidKey(pRoot, f.root), rec.encode())
	w.b.Delete(plainCidKey(pIncoming, f.root))
	w.b.Delete(idKey(pPending, f.owner))
	if err := w.flush(true); err != nil {
		return fail(err)
	}
	f.closeLocked()
	f.s.log.Info("fetched", "cid", f.root, "dest", dest, "size", info.Size)
	return info, nil
}

// moveIntoPlace renames the synced partial data to dest, replacing what
// is there only if force, and syncs the directories involved.
func (f *Fetch) moveIntoPlace(dest string, force bool) error {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	st, err := os.Lstat(dest)
	switch {
	case err == nil && !force:
		return fmt.Errorf("%w: %s", ErrDestExists, dest)
	case err == nil && (st.IsDir() || f.layout.Files[0].Dir):
		// rename replaces a file atomically, not a directory.
		if err := os.RemoveAll(dest); err != nil {
			return fmt.Errorf("replace %s: %w", dest, err)
		}
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return err
	}
	if err := os.Rename(f.part, dest); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(dest)); err != nil {
		return err
	}
	if pd := filepath.Dir(f.part); pd != filepath.Dir(dest) {
		return syncDir(pd)
	}
	return nil
}

// Abort stops the fetch and forgets it: its nodes and references are
// released, and its partial data removed unless keepPartial. The
// destination is never touched. A later StartFetch of the root starts
// clean (and removes partial data kept here).
func (f *Fetch) Abort(keepPartial bool) error {
	f.life.Lock()
	defer f.life.Unlock()
	if f.closed.Load() {
		return ErrFetchClosed
	}
	f.closeLocked()
	if err := f.s.release(f.owner, [][]byte{plainCidKey(pIncoming, f.root)}); err != nil {
		return fmt.Errorf("abort fetch %s: %w", f.root, err)
	}
	if !keepPartial {
		if err := os.RemoveAll(f.part); err != nil {
			return fmt.Errorf("abort fetch %s: remove partial data: %w", f.root, err)
		}
	}
	f.s.log.Info("fetch aborted", "cid", f.root, "part", f.part, "kept_partial", keepPartial)
	return nil
}

func (f *Fetch) closeLocked() {
	f.closed.Store(true)
	f.closeFiles()
	f.s.unregister(f)
}

func (f *Fetch) closeFiles() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closeFilesLocked()
}

func (f *Fetch) closeFilesLocked() {
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
