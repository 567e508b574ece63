package chunker

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/ipfs/go-cid"
)

// Leaf is one raw leaf of a kept or incoming root, in DAG order.
type Leaf struct {
	Cid    cid.Cid
	File   int   // index into Layout.Files
	Offset int64 // where its bytes go in that file
	Size   int64 // its length; -1 when not known before it arrives (a root that is one raw block)
}

// FileEntry is one file, directory or symlink of a root.
type FileEntry struct {
	Path    string // slash-separated, relative to the root; "" for the root itself
	Cid     cid.Cid
	Dir     bool
	Symlink string // target, for a symlink
	Size    int64  // content bytes of a file; -1 if not known yet
}

// Layout is everything needed to lay a root out on disk: its files in DAG
// order and its leaves in DAG order (a file's leaves are consecutive, by
// offset).
type Layout struct {
	Files  []FileEntry
	Leaves []Leaf
	Size   int64 // total content bytes; -1 if not known yet
}

// MissingError lists dag-pb nodes a layout needs that are not available yet.
type MissingError struct{ Cids []cid.Cid }

func (e *MissingError) Error() string {
	return fmt.Sprintf("%d nodes missing (first %s)", len(e.Cids), e.Cids[0])
}

// errNodeMissing is returned by a lookup that has no such block.
var errNodeMissing = errors.New("node not present")

// nodeLookup returns a dag-pb node's verified bytes, or errNodeMissing.
type nodeLookup func(c cid.Cid) ([]byte, error)

// buildLayout walks the internal nodes below root (never the leaves) and
// returns the layout. If some nodes are missing it returns a *MissingError
// with every missing node it can see; fetching them and calling again
// progresses the walk.
func buildLayout(ctx context.Context, root cid.Cid, get nodeLookup) (*Layout, error) {
	if err := checkCID(root); err != nil {
		return nil, err
	}
	w := &layoutWalker{ctx: ctx, get: get, l: &Layout{}}
	size, err := w.entry(root, "", -1, 0)
	if err != nil {
		return nil, err
	}
	if len(w.missing) > 0 {
		return nil, &MissingError{Cids: w.missing}
	}
	w.l.Size = size
	return w.l, nil
}

type layoutWalker struct {
	ctx     context.Context
	get     nodeLookup
	l       *Layout
	missing []cid.Cid
}

// entry adds the file, directory or symlink c at p. sizeHint is the parent
// link's Tsize (for a raw file, its length), or -1.
func (w *layoutWalker) entry(c cid.Cid, p string, sizeHint int64, depth int) (int64, error) {
	if err := checkCID(c); err != nil {
		return 0, err
	}
	if c.Type() == CodecRaw {
		fi := len(w.l.Files)
		w.l.Files = append(w.l.Files, FileEntry{Path: p, Cid: c, Size: sizeHint})
		w.l.Leaves = append(w.l.Leaves, Leaf{Cid: c, File: fi, Size: sizeHint})
		return sizeHint, nil
	}
	nd, ok, err := w.node(c)
	if err != nil || !ok {
		return -1, err
	}
	switch nd.fs.Type {
	case TypeDirectory, TypeHAMTShard:
		if depth > maxDepth {
			return 0, blockErr("layout", c, fmt.Errorf("%w: DAG deeper than %d", ErrMalformed, maxDepth))
		}
		w.l.Files = append(w.l.Files, FileEntry{Path: p, Cid: c, Dir: true})
		var total int64
		complete, err := walkDir(c, nd, w.node, func(ln PBLink) error {
			hint := int64(-1)
			if ln.Hash.Type() == CodecRaw {
				hint = int64(ln.Tsize)
				if hint > MaxBlockSize {
					return blockErr("layout", c, fmt.Errorf("%w: raw entry %q of %d bytes", ErrMalformed, ln.Name, hint))
				}
			}
			n, err := w.entry(ln.Hash, path.Join(p, ln.Name), hint, depth+1)
			if err != nil {
				return err
			}
			if n < 0 || total < 0 {
				total = -1
			} else {
				total += n
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		if !complete {
			total = -1
		}
		return total, nil
	case TypeSymlink:
		w.l.Files = append(w.l.Files, FileEntry{Path: p, Cid: c, Symlink: string(nd.fs.Data)})
		return 0, nil
	case TypeFile, TypeRaw:
		fi := len(w.l.Files)
		w.l.Files = append(w.l.Files, FileEntry{Path: p, Cid: c, Size: int64(nd.fs.FileSize)})
		n, err := w.fileNode(c, nd, fi, 0, depth)
		if err != nil {
			return 0, err
		}
		if n >= 0 && nd.fs.HasFileSize && uint64(n) != nd.fs.FileSize {
			return 0, blockErr("layout", c, fmt.Errorf("%w: leaves hold %d bytes, node declares %d", ErrMalformed, n, nd.fs.FileSize))
		}
		return n, nil
	default:
		return 0, blockErr("layout", c, fmt.Errorf("%w: UnixFS type %d not supported", ErrMalformed, nd.fs.Type))
	}
}

// node fetches and decodes a dag-pb node; a missing one is recorded.
func (w *layoutWalker) node(c cid.Cid) (node, bool, error) {
	if err := w.ctx.Err(); err != nil {
		return node{}, false, err
	}
	b, err := w.get(c)
	if errors.Is(err, errNodeMissing) {
		w.missing = append(w.missing, c)
		return node{}, false, nil
	}
	if err != nil {
		return node{}, false, err
	}
	nd, err := decodeNode(c, b)
	return nd, err == nil, err
}

// fileNode adds the leaves below file node c starting at offset off and
// returns the bytes they hold (-1 if nodes are missing below).
func (w *layoutWalker) fileNode(c cid.Cid, nd node, file int, off int64, depth int) (int64, error) {
	if depth > maxDepth {
		return 0, blockErr("layout", c, fmt.Errorf("%w: DAG deeper than %d", ErrMalformed, maxDepth))
	}
	if len(nd.fs.Data) > 0 {
		return 0, blockErr("layout", c, fmt.Errorf("%w: file data inside a dag-pb node (only raw leaves are supported here)", ErrMalformed))
	}
	if nd.fs.Type != TypeFile && nd.fs.Type != TypeRaw {
		return 0, blockErr("layout", c, fmt.Errorf("%w: UnixFS type %d inside a file", ErrMalformed, nd.fs.Type))
	}
	if len(nd.fs.BlockSizes) != len(nd.pb.Links) {
		return 0, blockErr("layout", c, fmt.Errorf("%w: %d blocksizes for %d links", ErrMalformed, len(nd.fs.BlockSizes), len(nd.pb.Links)))
	}
	start := off
	complete := true
	for i, ln := range nd.pb.Links {
		bs := nd.fs.BlockSizes[i]
		if bs > 1<<62 || off+int64(bs) < off {
			return 0, blockErr("layout", c, fmt.Errorf("%w: blocksize %d", ErrMalformed, bs))
		}
		if err := checkCID(ln.Hash); err != nil {
			return 0, err
		}
		if ln.Hash.Type() == CodecRaw {
			if bs > MaxBlockSize {
				return 0, blockErr("layout", c, fmt.Errorf("%w: raw leaf of %d bytes", ErrMalformed, bs))
			}
			w.l.Leaves = append(w.l.Leaves, Leaf{Cid: ln.Hash, File: file, Offset: off, Size: int64(bs)})
		} else {
			child, ok, err := w.node(ln.Hash)
			if err != nil {
				return 0, err
			}
			if !ok {
				complete = false
			} else {
				n, err := w.fileNode(ln.Hash, child, file, off, depth+1)
				if err != nil {
					return 0, err
				}
				if n >= 0 && uint64(n) != bs {
					return 0, blockErr("layout", c, fmt.Errorf("%w: child %d holds %d bytes, node declares %d", ErrMalformed, i, n, bs))
				}
			}
		}
		off += int64(bs)
	}
	if !complete {
		return -1, nil
	}
	return off - start, nil
}
