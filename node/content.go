package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/myco-p2p/myco/chunker"
	mycodht "github.com/myco-p2p/myco/dht"
)

// RootJSON describes a kept root to API clients.
type RootJSON struct {
	CID    string `json:"cid"`
	Size   uint64 `json:"size"`
	Blocks uint64 `json:"blocks"`
	Dir    bool   `json:"dir,omitempty"`
}

func rootJSON(r chunker.RootInfo) RootJSON {
	return RootJSON{CID: r.Cid.String(), Size: r.Size, Blocks: r.Blocks, Dir: r.Dir}
}

// ShareRequest is the body of POST /api/v0/share.
type ShareRequest struct {
	Path      string `json:"path"`
	ChunkSize int    `json:"chunk_size,omitempty"`
	MaxLinks  int    `json:"max_links,omitempty"`
	Hidden    bool   `json:"hidden,omitempty"`
}

// Share imports the file or directory at an absolute path, keeps it (by
// reference: the file stays where it is) and starts providing its root.
func (n *Node) Share(ctx context.Context, req ShareRequest) (RootJSON, error) {
	if !filepath.IsAbs(req.Path) {
		return RootJSON{}, badRequest(fmt.Errorf("share %q: the path must be absolute", req.Path))
	}
	p := chunker.DefaultParams()
	if req.ChunkSize != 0 {
		p.ChunkSize = req.ChunkSize
	}
	if req.MaxLinks != 0 {
		p.MaxLinks = req.MaxLinks
	}
	p.Hidden = req.Hidden
	if err := p.Validate(); err != nil {
		return RootJSON{}, badRequest(err)
	}
	if _, err := os.Stat(req.Path); err != nil {
		return RootJSON{}, badRequest(fmt.Errorf("share: %w", err))
	}
	root, err := n.store.AddPath(ctx, req.Path, p)
	if err != nil {
		return RootJSON{}, contentError(err)
	}
	n.provide(root.Cid)
	return rootJSON(root), nil
}

// provide announces a root in the background: the share answers at once,
// and the DHT remembers the root to reprovide it even if this first
// announcement fails.
func (n *Node) provide(c cid.Cid) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.dht.Provide(n.ctx, c); err != nil && n.ctx.Err() == nil {
			n.log.Warn("provide failed; will retry at the next reprovide", "cid", c, "err", err)
		}
	}()
}

// parseRoot parses a CID given by a user.
func parseRoot(s string) (cid.Cid, error) {
	c, err := mycodht.ParseCID(s)
	if err != nil {
		return cid.Undef, badRequest(err)
	}
	return c, nil
}

// Cat streams the file at root (a CID or a name) to w, fetching it from
// the swarm first when it is not here (timeout bounds the wait for a peer
// that has it; 0 is the swarm's default).
func (n *Node) Cat(ctx context.Context, root string, timeout time.Duration, w io.Writer) (int64, error) {
	c, err := n.resolveRoot(root)
	if err != nil {
		return 0, err
	}
	if err := n.fetchFor(ctx, c, timeout); err != nil {
		return 0, err
	}
	written, err := n.store.Cat(ctx, c, w)
	return written, contentError(err)
}

// Roots lists the kept roots.
func (n *Node) Roots() ([]RootJSON, error) {
	roots, err := n.store.Roots()
	if err != nil {
		return nil, err
	}
	out := make([]RootJSON, 0, len(roots))
	for _, r := range roots {
		out = append(out, rootJSON(r))
	}
	return out, nil
}

// Remove stops keeping and providing a root, freeing what no other kept
// root uses. Files shared by reference are never deleted.
func (n *Node) Remove(ctx context.Context, root string) error {
	c, err := parseRoot(root)
	if err != nil {
		return err
	}
	n.swarm.Drop(c)
	if err := n.store.Remove(c); err != nil {
		return contentError(err)
	}
	if _, err := n.dht.Unprovide(ctx, c); err != nil {
		return fmt.Errorf("stop providing %s: %w", c, err)
	}
	return nil
}

// contentError gives store errors the HTTP status that fits them.
func contentError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, chunker.ErrNotFound), errors.Is(err, chunker.ErrNotKept):
		return &httpError{http.StatusNotFound, err}
	case errors.Is(err, chunker.ErrUnsupportedCID), errors.Is(err, chunker.ErrBadParams),
		errors.Is(err, chunker.ErrTooLarge), errors.Is(err, chunker.ErrBadName),
		errors.Is(err, os.ErrNotExist), errors.Is(err, os.ErrPermission):
		return badRequest(err)
	case errors.Is(err, chunker.ErrHashMismatch), errors.Is(err, chunker.ErrSourceChanged),
		errors.Is(err, chunker.ErrSourceMissing):
		return &httpError{http.StatusConflict, err}
	}
	return err
}
