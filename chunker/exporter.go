package chunker

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ipfs/go-cid"
)

// Getter returns the bytes of a block, verified against its CID. The bytes
// may be reused by the Getter after the next call.
type Getter interface {
	Get(ctx context.Context, c cid.Cid) ([]byte, error)
}

// maxDepth bounds how deep a DAG may nest (files and directories). A
// balanced tree of 2-link nodes over 2^40 leaves is 40 deep; directories
// add their own levels.
const maxDepth = 256

// node is a decoded block: either raw bytes or a dag-pb node with its
// UnixFS data.
type node struct {
	raw []byte
	pb  *PBNode
	fs  *FSData
}

func getNode(ctx context.Context, g Getter, c cid.Cid) (node, error) {
	if err := checkCID(c); err != nil {
		return node{}, err
	}
	b, err := g.Get(ctx, c)
	if err != nil {
		return node{}, err
	}
	return decodeNode(c, b)
}

// decodeNode decodes verified block bytes b of c.
func decodeNode(c cid.Cid, b []byte) (node, error) {
	if c.Type() == CodecRaw {
		return node{raw: b}, nil
	}
	pb, err := DecodePBNode(b)
	if err != nil {
		return node{}, blockErr("decode", c, err)
	}
	if pb.Data == nil {
		return node{}, blockErr("decode", c, fmt.Errorf("%w: dag-pb node without UnixFS data", ErrMalformed))
	}
	fs, err := DecodeFSData(pb.Data)
	if err != nil {
		return node{}, blockErr("decode", c, err)
	}
	return node{pb: pb, fs: fs}, nil
}

// WriteFile streams the content of the UnixFS file at root to w, fetching
// and verifying one block at a time, and returns the bytes written. It
// checks the DAG's own declarations (blocksizes, filesize) as it goes, so a
// well-hashed but inconsistent DAG is an error, not silently wrong output.
func WriteFile(ctx context.Context, g Getter, root cid.Cid, w io.Writer) (int64, error) {
	n, err := writeFile(ctx, g, root, w, 0)
	if err != nil {
		return n, fmt.Errorf("export %s: %w", root, err)
	}
	return n, nil
}

func writeFile(ctx context.Context, g Getter, c cid.Cid, w io.Writer, depth int) (int64, error) {
	if depth > maxDepth {
		return 0, blockErr("export", c, fmt.Errorf("%w: DAG deeper than %d", ErrMalformed, maxDepth))
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	nd, err := getNode(ctx, g, c)
	if err != nil {
		return 0, err
	}
	if nd.pb == nil {
		n, err := w.Write(nd.raw)
		return int64(n), err
	}
	if nd.fs.Type != TypeFile && nd.fs.Type != TypeRaw {
		return 0, blockErr("export", c, fmt.Errorf("%w: not a file (UnixFS type %d)", ErrMalformed, nd.fs.Type))
	}
	if len(nd.fs.BlockSizes) != 0 && len(nd.fs.BlockSizes) != len(nd.pb.Links) {
		return 0, blockErr("export", c, fmt.Errorf("%w: %d blocksizes for %d links", ErrMalformed, len(nd.fs.BlockSizes), len(nd.pb.Links)))
	}
	var total int64
	if len(nd.fs.Data) > 0 {
		n, err := w.Write(nd.fs.Data)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	// Links are copied: the Getter may reuse the block's bytes.
	links := append([]PBLink(nil), nd.pb.Links...)
	sizes := append([]uint64(nil), nd.fs.BlockSizes...)
	fileSize, hasSize := nd.fs.FileSize, nd.fs.HasFileSize
	for i, l := range links {
		n, err := writeFile(ctx, g, l.Hash, w, depth+1)
		total += n
		if err != nil {
			return total, err
		}
		if len(sizes) > 0 && uint64(n) != sizes[i] {
			return total, blockErr("export", c, fmt.Errorf("%w: child %d has %d bytes, node declares %d", ErrMalformed, i, n, sizes[i]))
		}
	}
	if hasSize && uint64(total) != fileSize {
		return total, blockErr("export", c, fmt.Errorf("%w: %d bytes, node declares filesize %d", ErrMalformed, total, fileSize))
	}
	return total, nil
}

// WriteTree writes the file, directory or symlink at root to dst, which must
// not exist yet. Directory entry names are checked (no "/", "..", "." or
// empty names), so a DAG from a peer can only write below dst.
func WriteTree(ctx context.Context, g Getter, root cid.Cid, dst string) error {
	if err := writeTree(ctx, g, root, dst, 0); err != nil {
		return fmt.Errorf("export %s to %s: %w", root, dst, err)
	}
	return nil
}

func writeTree(ctx context.Context, g Getter, c cid.Cid, dst string, depth int) error {
	if depth > maxDepth {
		return blockErr("export", c, fmt.Errorf("%w: DAG deeper than %d", ErrMalformed, maxDepth))
	}
	nd, err := getNode(ctx, g, c)
	if err != nil {
		return err
	}
	if nd.pb != nil {
		switch nd.fs.Type {
		case TypeDirectory, TypeHAMTShard:
			if err := os.Mkdir(dst, 0o755); err != nil {
				return err
			}
			_, err := walkDir(c, nd, getterLoader(ctx, g), func(l PBLink) error {
				return writeTree(ctx, g, l.Hash, filepath.Join(dst, l.Name), depth+1)
			})
			return err
		case TypeSymlink:
			return os.Symlink(string(nd.fs.Data), dst)
		}
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	bw := newBufWriter(f)
	_, err = writeFile(ctx, g, c, bw, depth)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// CheckName rejects directory entry names that could escape the directory
// or are not portable file names.
func CheckName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") ||
		(os.PathSeparator != '/' && strings.ContainsRune(name, os.PathSeparator)) {
		return fmt.Errorf("%w: %q", ErrBadName, name)
	}
	return nil
}
