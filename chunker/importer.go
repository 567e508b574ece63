package chunker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/ipfs/go-cid"
)

// Import parameter bounds and the two common profiles.
const (
	// DefaultChunkSize and DefaultMaxLinks are IPFS's unixfs-v1-2025 profile.
	DefaultChunkSize = 1 << 20
	DefaultMaxLinks  = 1024
	// LegacyChunkSize and LegacyMaxLinks are the older 256 KiB / 174-link
	// profile (kubo's test-cid-v1).
	LegacyChunkSize = 256 << 10
	LegacyMaxLinks  = 174

	MinChunkSize = 256     // smaller chunks only multiply blocks
	MaxChunkSize = 1 << 20 // boxo's chunker limit
	MinMaxLinks  = 2       // one link per node never finishes the tree
	MaxMaxLinks  = 8192    // keeps every internal node well under MaxBlockSize

	// MaxDirBlockSize is the largest basic directory node this package
	// writes. A directory whose plain node would be larger as an encoded
	// block is written as a HAMT (see writeDir), as IPFS's unixfs-v1-2025
	// profile does.
	MaxDirBlockSize = 256 << 10
)

// smallFileProbe is how much ImportFile reads before it starts its
// pipeline: a file that ends within it is one leaf, hashed at once.
const smallFileProbe = 64 << 10

// Params are the import settings. The zero value is not valid; use
// DefaultParams or LegacyParams and adjust.
type Params struct {
	ChunkSize int  // bytes per leaf
	MaxLinks  int  // links per internal node
	Hidden    bool // include names starting with "." when importing a directory (ipfs add --hidden)
}

// DefaultParams is IPFS's unixfs-v1-2025 profile: 1 MiB chunks, 1024 links.
func DefaultParams() Params { return Params{ChunkSize: DefaultChunkSize, MaxLinks: DefaultMaxLinks} }

// LegacyParams is the 256 KiB / 174-link profile.
func LegacyParams() Params { return Params{ChunkSize: LegacyChunkSize, MaxLinks: LegacyMaxLinks} }

// Validate reports parameters outside the supported bounds.
func (p Params) Validate() error {
	if p.ChunkSize < MinChunkSize || p.ChunkSize > MaxChunkSize {
		return fmt.Errorf("%w: chunk size %d not in [%d, %d]", ErrBadParams, p.ChunkSize, MinChunkSize, MaxChunkSize)
	}
	if p.MaxLinks < MinMaxLinks || p.MaxLinks > MaxMaxLinks {
		return fmt.Errorf("%w: max links %d not in [%d, %d]", ErrBadParams, p.MaxLinks, MinMaxLinks, MaxMaxLinks)
	}
	return nil
}

// Sink receives the blocks of an import as they are made, children before
// parents. data is only valid during the call.
type Sink interface {
	// Leaf receives each raw leaf in file order with its offset in the file.
	Leaf(c cid.Cid, data []byte, offset int64) error
	// Node receives each dag-pb node (file nodes, directories, symlinks).
	Node(c cid.Cid, data []byte) error
}

// Entry is the result of importing a file or directory.
type Entry struct {
	Cid    cid.Cid
	Size   uint64 // content bytes: the file's length, or the sum over a directory's files
	Tsize  uint64 // cumulative size: this block plus all blocks below (a parent link's Tsize)
	Blocks int    // blocks made, counting repeats
}

// ImportFile reads r to the end and builds the balanced UnixFS DAG that
// boxo's balanced importer builds with raw leaves and CIDv1: every leaf is
// ChunkSize bytes except the last; the first leaf alone is the root if the
// file fits one chunk; otherwise the tree grows a level whenever the current
// root holds MaxLinks children, and each new level is filled depth-first
// before the next. Memory is one chunk plus MaxLinks links per level.
func ImportFile(ctx context.Context, r io.Reader, p Params, sink Sink) (Entry, error) {
	if err := p.Validate(); err != nil {
		return Entry{}, err
	}
	// Most files of a big tree are small: one read into a small buffer
	// finds them whole, and they are hashed here without the pipeline's
	// goroutines and chunk buffers.
	probe := make([]byte, min(p.ChunkSize, smallFileProbe))
	n, err := io.ReadFull(r, probe)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		data := probe[:n]
		c := sumCID(CodecRaw, data)
		if err := sink.Leaf(c, data, 0); err != nil {
			return Entry{}, fmt.Errorf("import file: %w", err)
		}
		return Entry{Cid: c, Size: uint64(n), Tsize: uint64(n), Blocks: 1}, nil
	case err != nil:
		return Entry{}, fmt.Errorf("import file: read: %w", err)
	}
	src := startChunks(ctx, io.MultiReader(bytes.NewReader(probe), r), p.ChunkSize)
	defer src.stop()
	b := &builder{p: p, sink: sink, src: src}
	e, err := b.build()
	if err != nil {
		return Entry{}, fmt.Errorf("import file: %w", err)
	}
	return e, nil
}

type builder struct {
	p      Params
	sink   Sink
	src    *chunkSource
	cur    *chunk // the next chunk, read and hashed, not yet made a leaf
	eof    bool   // no chunks left
	offset int64  // file offset of the next leaf
	blocks int
	enc    []byte // reused encoding buffer
}

// done reports whether the file has no more chunks, taking the next one
// from the source if the previous one was consumed.
func (b *builder) done() (bool, error) {
	if b.cur != nil {
		return false, nil
	}
	if b.eof {
		return true, nil
	}
	ch, err := b.src.next()
	if err != nil {
		return false, err
	}
	b.cur, b.eof = ch, ch == nil
	return b.eof, nil
}

// child is a link being collected for a file node.
type child struct {
	c        cid.Cid
	tsize    uint64
	fileSize uint64
}

func (b *builder) leaf() (child, error) {
	ch := b.cur
	data := ch.buf[:ch.n]
	if err := b.sink.Leaf(ch.c, data, b.offset); err != nil {
		return child{}, err
	}
	b.offset += int64(len(data))
	b.cur = nil
	b.src.release(ch)
	b.blocks++
	return child{c: ch.c, tsize: uint64(len(data)), fileSize: uint64(len(data))}, nil
}

func (b *builder) build() (Entry, error) {
	done, err := b.done()
	if err != nil {
		return Entry{}, err
	}
	if done { // the empty file is one empty raw block
		c := sumCID(CodecRaw, nil)
		if err := b.sink.Leaf(c, nil, 0); err != nil {
			return Entry{}, err
		}
		return Entry{Cid: c, Blocks: 1}, nil
	}
	root, err := b.leaf()
	if err != nil {
		return Entry{}, err
	}
	for depth := 1; ; depth++ {
		if done, err = b.done(); err != nil {
			return Entry{}, err
		} else if done {
			break
		}
		root, err = b.fill([]child{root}, depth)
		if err != nil {
			return Entry{}, err
		}
	}
	return Entry{Cid: root.c, Size: root.fileSize, Tsize: root.tsize, Blocks: b.blocks}, nil
}

// fill adds children of the given depth (1: leaves) to a node that already
// holds kids until it has MaxLinks or the file ends, then writes it.
func (b *builder) fill(kids []child, depth int) (child, error) {
	for len(kids) < b.p.MaxLinks {
		done, err := b.done()
		if err != nil {
			return child{}, err
		}
		if done {
			break
		}
		var k child
		if depth == 1 {
			k, err = b.leaf()
		} else {
			k, err = b.fill(make([]child, 0, b.p.MaxLinks), depth-1)
		}
		if err != nil {
			return child{}, err
		}
		kids = append(kids, k)
	}
	return b.fileNode(kids)
}

func (b *builder) fileNode(kids []child) (child, error) {
	fs := FSData{Type: TypeFile, HasFileSize: true, BlockSizes: make([]uint64, len(kids))}
	links := make([]PBLink, len(kids))
	var tsize uint64
	for i, k := range kids {
		fs.FileSize += k.fileSize
		fs.BlockSizes[i] = k.fileSize
		links[i] = PBLink{Hash: k.c, Tsize: k.tsize}
		tsize += k.tsize
	}
	data := AppendFSData(nil, &fs)
	b.enc = AppendPBNode(b.enc[:0], &PBNode{Links: links, Data: data})
	c := sumCID(CodecDagPB, b.enc)
	if err := b.sink.Node(c, b.enc); err != nil {
		return child{}, err
	}
	b.blocks++
	return child{c: c, tsize: tsize + uint64(len(b.enc)), fileSize: fs.FileSize}, nil
}

// FileImporter imports one regular file found while walking a directory
// (the store records where its leaves live) and returns its entry.
// ImportDir calls it from several goroutines at once.
type FileImporter func(ctx context.Context, path string) (Entry, error)

// ImportDir imports the directory at path recursively as `ipfs add -r`
// does with the unixfs-v1-2025 profile: a basic directory is one dag-pb
// node with Data {Type: Directory} and one link per entry, sorted by name,
// Tsize the entry's cumulative size; a directory whose basic node would
// pass MaxDirBlockSize is a HAMT instead (writeDir). Regular files go
// through importFile; symlinks become UnixFS symlink nodes; names starting
// with "." are skipped unless p.Hidden; other file types are an error.
//
// Files are imported on a few goroutines (importFile must allow it) while
// the walk goes on; each directory's node is written once, when its last
// entry is known, from the calling goroutine, which alone uses sink.
func ImportDir(ctx context.Context, path string, p Params, importFile FileImporter, sink Sink) (Entry, error) {
	if err := p.Validate(); err != nil {
		return Entry{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d := &dirImport{ctx: ctx, cancel: cancel, p: p, importFile: importFile, sink: sink, jobs: make(chan fileJob, 64)}
	workers := min(max(runtime.GOMAXPROCS(0), 1), maxImportWorkers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(d.work)
	}
	e, err := d.dir(path)
	close(d.jobs)
	wg.Wait()
	if err == nil {
		err = d.firstErr()
	}
	return e, err
}

// maxImportWorkers bounds the goroutines importing files at once: small
// files are bound by system calls and hashing, both of which a few cores
// share well.
const maxImportWorkers = 8

// dirImport is one ImportDir: the walk, in the caller's goroutine, and
// the file workers.
type dirImport struct {
	ctx        context.Context
	cancel     context.CancelFunc
	p          Params
	importFile FileImporter
	sink       Sink
	jobs       chan fileJob

	mu  sync.Mutex
	err error // the first failure
}

// fileJob is one file for a worker; it fills *out and calls done.
type fileJob struct {
	path string
	out  *Entry
	done *sync.WaitGroup
}

func (d *dirImport) work() {
	for j := range d.jobs {
		if d.ctx.Err() == nil {
			e, err := d.importFile(d.ctx, j.path)
			if err != nil {
				d.fail(err)
			}
			*j.out = e
		}
		j.done.Done()
	}
}

func (d *dirImport) fail(err error) {
	d.mu.Lock()
	if d.err == nil {
		d.err = err
	}
	d.mu.Unlock()
	d.cancel()
}

func (d *dirImport) firstErr() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// dir imports one directory: its files go to the workers, its
// subdirectories are walked here meanwhile, and its node is written when
// all are done.
func (d *dirImport) dir(dir string) (Entry, error) {
	if err := d.ctx.Err(); err != nil {
		if ferr := d.firstErr(); ferr != nil {
			return Entry{}, ferr
		}
		return Entry{}, err
	}
	ents, err := os.ReadDir(dir) // sorted by name, bytewise, as dag-pb links are
	if err != nil {
		return Entry{}, fmt.Errorf("import directory: %w", err)
	}
	kept := ents[:0]
	for _, de := range ents {
		if d.p.Hidden || !strings.HasPrefix(de.Name(), ".") {
			kept = append(kept, de)
		}
	}
	results := make([]Entry, len(kept))
	var pending sync.WaitGroup
	for i, de := range kept {
		full := filepath.Join(dir, de.Name())
		switch t := de.Type(); {
		case t.IsRegular():
			pending.Add(1)
			select {
			case d.jobs <- fileJob{path: full, out: &results[i], done: &pending}:
			case <-d.ctx.Done():
				pending.Done()
				return d.abort(&pending, d.ctx.Err())
			}
		case t.IsDir():
			results[i], err = d.dir(full)
		case t&fs.ModeSymlink != 0:
			results[i], err = importSymlink(full, d.sink)
		default:
			err = fmt.Errorf("import %s: unsupported file type %s", full, t)
		}
		if err != nil {
			return d.abort(&pending, err)
		}
	}
	pending.Wait()
	if err := d.firstErr(); err != nil {
		return Entry{}, err
	}
	links := make([]PBLink, len(kept))
	var total Entry
	for i, de := range kept {
		e := results[i]
		links[i] = PBLink{Hash: e.Cid, Name: de.Name(), Tsize: e.Tsize}
		total.Size += e.Size
		total.Blocks += e.Blocks
	}
	c, tsize, blocks, err := writeDir(links, d.sink)
	if err != nil {
		return Entry{}, fmt.Errorf("import directory %s: %w", dir, err)
	}
	total.Cid = c
	total.Tsize = tsize
	total.Blocks += blocks
	return total, nil
}

// abort records err, stops the import and waits for this directory's
// files still with the workers (they write into its results).
func (d *dirImport) abort(pending *sync.WaitGroup, err error) (Entry, error) {
	d.fail(err)
	pending.Wait()
	return Entry{}, d.firstErr()
}

func dirData() []byte { return AppendFSData(nil, &FSData{Type: TypeDirectory}) }

func importSymlink(path string, sink Sink) (Entry, error) {
	target, err := os.Readlink(path)
	if err != nil {
		return Entry{}, fmt.Errorf("import symlink: %w", err)
	}
	data := AppendPBNode(nil, &PBNode{Data: AppendFSData(nil, &FSData{Type: TypeSymlink, Data: []byte(target)})})
	c := sumCID(CodecDagPB, data)
	if err := sink.Node(c, data); err != nil {
		return Entry{}, err
	}
	return Entry{Cid: c, Tsize: uint64(len(data)), Blocks: 1}, nil
}
