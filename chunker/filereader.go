package chunker

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ipfs/go-cid"
)

// FileReader reads a UnixFS file at any offset (an io.ReadSeeker, for
// HTTP Range requests). Each Read finds the leaf holding its offset by
// descending from the root along the declared blocksizes; the last leaf
// read is kept, so sequential reads get each leaf (and verify it) once.
// A leaf whose length is not what its parent declares is an error.
type FileReader struct {
	ctx  context.Context
	g    Getter
	root cid.Cid
	size int64
	pos  int64

	leaf    []byte // the last leaf read, and where it starts
	leafOff int64
}

// NewFileReader opens the file at c (a raw leaf or a dag-pb file node).
func NewFileReader(ctx context.Context, g Getter, c cid.Cid) (*FileReader, error) {
	nd, err := getNode(ctx, g, c)
	if err != nil {
		return nil, err
	}
	r := &FileReader{ctx: ctx, g: g, root: c}
	switch {
	case nd.pb == nil:
		r.size = int64(len(nd.raw))
		r.leaf = append([]byte(nil), nd.raw...)
	case nd.fs.Type == TypeFile || nd.fs.Type == TypeRaw:
		if !nd.fs.HasFileSize && len(nd.pb.Links) > 0 {
			return nil, blockErr("read", c, fmt.Errorf("%w: file node without filesize", ErrMalformed))
		}
		r.size = int64(nd.fs.FileSize)
		if len(nd.pb.Links) == 0 {
			r.size = int64(len(nd.fs.Data))
			r.leaf = append([]byte(nil), nd.fs.Data...)
		}
		r.leafOff = -1
		if r.leaf != nil {
			r.leafOff = 0
		}
	default:
		return nil, blockErr("read", c, fmt.Errorf("%w: not a file (UnixFS type %d)", ErrNotFile, nd.fs.Type))
	}
	return r, nil
}

// ErrNotFile: a file was asked for where there is a directory or symlink.
var ErrNotFile = errors.New("not a file")

// Size is the file's length.
func (r *FileReader) Size() int64 { return r.size }

// Seek sets the offset of the next Read.
func (r *FileReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.pos
	case io.SeekEnd:
		offset += r.size
	default:
		return r.pos, fmt.Errorf("seek: whence %d", whence)
	}
	if offset < 0 {
		return r.pos, fmt.Errorf("seek: negative offset %d", offset)
	}
	r.pos = offset
	return offset, nil
}

// Read reads from the current offset.
func (r *FileReader) Read(p []byte) (int, error) {
	if r.pos >= r.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.leaf == nil || r.leafOff < 0 || r.pos < r.leafOff || r.pos >= r.leafOff+int64(len(r.leaf)) {
		if err := r.findLeaf(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.leaf[r.pos-r.leafOff:])
	if rest := r.size - r.pos; int64(n) > rest {
		n = int(rest)
	}
	r.pos += int64(n)
	return n, nil
}

// findLeaf descends from the root to the leaf holding r.pos.
func (r *FileReader) findLeaf() error {
	c, off, want := r.root, int64(0), int64(-1)
	for depth := 0; ; depth++ {
		if depth > maxDepth {
			return blockErr("read", c, fmt.Errorf("%w: DAG deeper than %d", ErrMalformed, maxDepth))
		}
		if err := r.ctx.Err(); err != nil {
			return err
		}
		nd, err := getNode(r.ctx, r.g, c)
		if err != nil {
			return err
		}
		if nd.pb == nil {
			if want >= 0 && int64(len(nd.raw)) != want {
				return blockErr("read", c, fmt.Errorf("%w: leaf of %d bytes where its parent declares %d", ErrMalformed, len(nd.raw), want))
			}
			r.leaf, r.leafOff = append(r.leaf[:0], nd.raw...), off
			return nil
		}
		if nd.fs.Type != TypeFile && nd.fs.Type != TypeRaw {
			return blockErr("read", c, fmt.Errorf("%w: UnixFS type %d inside a file", ErrMalformed, nd.fs.Type))
		}
		if len(nd.fs.BlockSizes) != len(nd.pb.Links) {
			return blockErr("read", c, fmt.Errorf("%w: %d blocksizes for %d links", ErrMalformed, len(nd.fs.BlockSizes), len(nd.pb.Links)))
		}
		if len(nd.fs.Data) > 0 {
			if r.pos < off+int64(len(nd.fs.Data)) {
				r.leaf, r.leafOff = append(r.leaf[:0], nd.fs.Data...), off
				return nil
			}
			off += int64(len(nd.fs.Data))
		}
		next := cid.Undef
		for i, l := range nd.pb.Links {
			bs := int64(nd.fs.BlockSizes[i])
			if bs < 0 || off+bs < off {
				return blockErr("read", c, fmt.Errorf("%w: blocksize %d", ErrMalformed, bs))
			}
			if r.pos < off+bs {
				next, want = l.Hash, bs
				break
			}
			off += bs
		}
		if !next.Defined() {
			return blockErr("read", c, fmt.Errorf("%w: offset %d beyond the file's blocks", ErrMalformed, r.pos))
		}
		c = next
	}
}
