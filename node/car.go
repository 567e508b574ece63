package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/myco-p2p/myco/car"
	"github.com/myco-p2p/myco/chunker"
)

// CARImportJSON is the answer to a CAR import.
type CARImportJSON struct {
	Roots   []RootJSON `json:"roots"`
	Version int        `json:"version"` // the CAR's version: 1 or 2
}

// ExportCAR writes the whole DAG of root (a CID or a name, optionally
// followed by /path/inside) to w as a CARv1 naming it as the root, blocks
// in DAG order, each read and verified as it is written. A root that is
// not here is fetched from the swarm first, as for cat. It returns the
// bytes written.
func (n *Node) ExportCAR(ctx context.Context, root string, timeout time.Duration, w io.Writer) (int64, error) {
	rootPart, sub := splitContentPath(root)
	c, err := n.resolveRoot(rootPart)
	if err != nil {
		return 0, err
	}
	if err := n.fetchFor(ctx, c, timeout); err != nil {
		return 0, err
	}
	if sub != "" {
		if c, err = n.resolvePath(ctx, c, sub); err != nil {
			return 0, err
		}
	}
	cw := &countingWriter{w: w}
	// The first block is read before the header is written, so a root
	// that is not here is an error with a status, not an empty CAR.
	if _, err := n.store.Get(ctx, c); err != nil {
		return 0, contentError(err)
	}
	carw, err := car.NewWriter(cw, c)
	if err != nil {
		return 0, err
	}
	err = chunker.WalkDAG(ctx, n.store, c, carw.Put)
	if err == nil {
		err = carw.Flush()
	}
	return cw.n, contentError(err)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ImportCAR reads a CAR (v1, or v2's payload) from r, verifies every block
// against its CID, keeps its roots and starts providing them. A truncated
// or corrupt CAR, a block that does not match its CID, or a root whose
// DAG is not whole in the CAR is a bad request, and nothing of it is
// kept.
func (n *Node) ImportCAR(ctx context.Context, r io.Reader) (CARImportJSON, error) {
	cr, err := car.NewReader(r)
	if err != nil {
		return CARImportJSON{}, carError(err)
	}
	roots, err := n.store.ImportBlocks(ctx, cr.Roots, cr.Next)
	if err != nil {
		return CARImportJSON{}, carError(err)
	}
	out := CARImportJSON{Version: cr.Version, Roots: make([]RootJSON, 0, len(roots))}
	for _, r := range roots {
		out.Roots = append(out.Roots, rootJSON(r))
		n.provide(r.Cid)
	}
	return out, nil
}

// carError makes what is wrong with a CAR a bad request.
func carError(err error) error {
	switch {
	case errors.Is(err, car.ErrTruncated), errors.Is(err, car.ErrMalformed),
		errors.Is(err, chunker.ErrHashMismatch), errors.Is(err, chunker.ErrDAGIncomplete),
		errors.Is(err, chunker.ErrMalformed), errors.Is(err, chunker.ErrUnsupportedCID),
		errors.Is(err, chunker.ErrTooLarge), errors.Is(err, chunker.ErrBadName):
		return badRequest(fmt.Errorf("import CAR: %w", err))
	}
	return fmt.Errorf("import CAR: %w", err)
}
