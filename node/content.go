package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/myco-p2p/myco/chunker"
	"github.com/myco-p2p/myco/swarm"
)

// RootJSON describes a root to API clients: a kept one (shared or
// fetched), one being fetched, or one whose fetch failed or was cancelled.
type RootJSON struct {
	CID    string `json:"cid"`
	Size   uint64 `json:"size"` // 0 while unknown
	Blocks uint64 `json:"blocks,omitempty"`
	Dir    bool   `json:"dir,omitempty"`
	// Name is the file or folder name it was shared or fetched under.
	Name string `json:"name,omitempty"`
	// State is "seeding" or "broken" for a kept root; "queued", "finding
	// peers", "downloading", "verifying" for one being fetched; "failed"
	// or "cancelled".
	State string `json:"state"`
	// Reason says why it is broken or failed.
	Reason string `json:"reason,omitempty"`
	// Percent is how much of a fetch is on disk.
	Percent float64 `json:"percent,omitempty"`
	// Dest is where a fetch writes.
	Dest string `json:"dest,omitempty"`
}

func rootJSON(r chunker.RootInfo) RootJSON {
	out := RootJSON{CID: r.Cid.String(), Size: r.Size, Blocks: r.Blocks, Dir: r.Dir, Name: r.Name, State: "seeding"}
	if r.Broken != "" {
		out.State, out.Reason = "broken", r.Broken
	}
	return out
}

// sessionRoot describes a root from its download's state.
func sessionRoot(st swarm.SessionStats) RootJSON {
	out := RootJSON{CID: st.Root.String(), Name: st.Name, State: st.State, Reason: st.Reason, Dest: st.Dest}
	if st.Size > 0 {
		out.Size = uint64(st.Size)
	}
	if out.State == "" {
		out.State = "downloading"
	}
	if out.State == "downloading" || out.State == "verifying" {
		out.Percent = percent(st.Bytes, st.Size)
	}
	return out
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
	if req.Path == "" {
		return RootJSON{}, badRequest(errors.New("share: no path given"))
	}
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

// provideAttempts is how often a new root's first announcement is tried
// (1 s apart, doubling) before it is left to the next reprovide: right
// after start the routing table may still be filling.
const provideAttempts = 5

// provide announces a root in the background: the share answers at once,
// and the DHT remembers the root to reprovide it even if this first
// announcement fails.
func (n *Node) provide(c cid.Cid) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		delay := time.Second
		for attempt := 1; ; attempt++ {
			err := n.dht.Provide(n.ctx, c)
			if err == nil || n.ctx.Err() != nil {
				return
			}
			if attempt == provideAttempts {
				n.log.Warn("provide failed; will retry at the next reprovide", "cid", c, "attempts", attempt, "err", err)
				return
			}
			t := time.NewTimer(delay)
			select {
			case <-n.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			delay *= 2
		}
	}()
}

// parseRoot parses a CID given by a user.
func parseRoot(s string) (cid.Cid, error) {
	c, err := ParseCID(s)
	if err != nil {
		return cid.Undef, badRequest(err)
	}
	return c, nil
}

// Cat streams the file at root (a CID or a name, optionally followed by
// /path/inside, through basic and HAMT-sharded directories) to w,
// fetching the root from the swarm first when it is not here (timeout
// bounds the wait for a peer that has it; 0 is the swarm's default).
func (n *Node) Cat(ctx context.Context, root string, timeout time.Duration, w io.Writer) (int64, error) {
	rootPart, sub := splitContentPath(root)
	c, err := n.resolveRoot(rootPart)
	if err != nil {
		return 0, err
	}
	if info, err := n.store.Root(c); err == nil && info.Dir && sub == "" {
		return 0, dirError(c)
	}
	if err := n.fetchFor(ctx, c, timeout); err != nil {
		return 0, err
	}
	if sub != "" {
		if c, err = n.resolvePath(ctx, c, sub); err != nil {
			return 0, err
		}
		if isDir(ctx, n.store, c) {
			return 0, badRequest(fmt.Errorf("cat: %s is a directory; list its entries with 'myco ls %s'", root, root))
		}
	} else if info, err := n.store.Root(c); err == nil && info.Dir {
		return 0, dirError(c)
	}
	written, err := n.store.Cat(ctx, c, w)
	return written, contentError(err)
}

// splitContentPath splits "root/some/path" into the root (a CID or a
// name) and the path inside it ("" for none).
func splitContentPath(s string) (root, sub string) {
	s = strings.TrimPrefix(s, "/ipfs/")
	root, sub, _ = strings.Cut(s, "/")
	return root, strings.Trim(sub, "/")
}

// resolvePath follows sub from root through the store's directories.
func (n *Node) resolvePath(ctx context.Context, root cid.Cid, sub string) (cid.Cid, error) {
	c, err := chunker.ResolvePath(ctx, n.store, root, sub)
	switch {
	case errors.Is(err, chunker.ErrNoEntry):
		return cid.Undef, &httpError{http.StatusNotFound, err}
	case errors.Is(err, chunker.ErrNotDir):
		return cid.Undef, badRequest(err)
	}
	return c, contentError(err)
}

// isDir reports whether c is a directory (basic or HAMT) held in g.
func isDir(ctx context.Context, g chunker.Getter, c cid.Cid) bool {
	if c.Type() != chunker.CodecDagPB {
		return false
	}
	b, err := g.Get(ctx, c)
	if err != nil {
		return false
	}
	_, fs, err := decodeUnixFS(b)
	return err == nil && (fs.Type == chunker.TypeDirectory || fs.Type == chunker.TypeHAMTShard)
}

func dirError(c cid.Cid) error {
	return badRequest(fmt.Errorf("cat: %s is a directory; list its entries with 'myco ls %s'", c, c))
}

// Roots lists every root the node knows: kept ones (seeding or broken),
// downloads under way, and failed or cancelled ones.
func (n *Node) Roots() ([]RootJSON, error) {
	roots, err := n.store.Roots()
	if err != nil {
		return nil, err
	}
	out := make([]RootJSON, 0, len(roots))
	seen := make(map[cid.Cid]bool, len(roots))
	for _, r := range roots {
		out = append(out, rootJSON(r))
		seen[r.Cid] = true
	}
	for _, st := range n.swarm.Sessions() {
		if seen[st.Root] || !st.Downloading {
			continue
		}
		seen[st.Root] = true
		out = append(out, sessionRoot(st))
	}
	if inc, err := n.store.Incoming(); err == nil {
		for _, in := range inc {
			if !seen[in.Root] { // paused: resumes in the background
				seen[in.Root] = true
				out = append(out, RootJSON{CID: in.Root.String(), State: "queued", Dest: in.Dest})
			}
		}
	}
	for _, st := range n.swarm.FinishedList() {
		if !seen[st.Root] {
			seen[st.Root] = true
			out = append(out, sessionRoot(st))
		}
	}
	return out, nil
}

// EntryJSON is one entry of a directory root (`myco ls CID`).
type EntryJSON struct {
	Name string `json:"name"`
	CID  string `json:"cid"`
	Size uint64 `json:"size"` // content bytes of a file; for a directory, its DAG's bytes
	Dir  bool   `json:"dir,omitempty"`
}

// ListDir lists the entries of a directory root that is here, basic or
// HAMT-sharded, sorted by name (a file root lists as itself). root may
// be followed by /path/inside.
func (n *Node) ListDir(ctx context.Context, root string) ([]EntryJSON, error) {
	rootPart, sub := splitContentPath(root)
	c, err := n.resolveRoot(rootPart)
	if err != nil {
		return nil, err
	}
	name := c.String()
	if info, err := n.store.Root(c); err == nil && info.Name != "" {
		name = info.Name
	}
	if sub != "" {
		if c, err = n.resolvePath(ctx, c, sub); err != nil {
			if errors.Is(err, chunker.ErrNotFound) {
				return nil, &httpError{http.StatusNotFound, fmt.Errorf("ls: %s is not here (fetch it first)", rootPart)}
			}
			return nil, err
		}
		name = path.Base(sub)
	}
	b, err := n.store.Get(ctx, c)
	if errors.Is(err, chunker.ErrNotFound) {
		return nil, &httpError{http.StatusNotFound, fmt.Errorf("ls: %s is not here (fetch it first)", c)}
	} else if err != nil {
		return nil, contentError(err)
	}
	if c.Type() == chunker.CodecRaw {
		return []EntryJSON{{Name: name, CID: c.String(), Size: uint64(len(b))}}, nil
	}
	_, fs, err := decodeUnixFS(b)
	if err != nil {
		return nil, contentError(fmt.Errorf("ls %s: %w", c, err))
	}
	switch fs.Type {
	case chunker.TypeFile, chunker.TypeRaw:
		return []EntryJSON{{Name: name, CID: c.String(), Size: fs.FileSize}}, nil
	case chunker.TypeDirectory, chunker.TypeHAMTShard:
	default:
		return nil, badRequest(fmt.Errorf("ls: %s is neither a file nor a directory (UnixFS type %d)", c, fs.Type))
	}
	links, err := chunker.DirEntries(ctx, n.store, c)
	if err != nil {
		return nil, contentError(fmt.Errorf("ls %s: %w", c, err))
	}
	slices.SortFunc(links, func(a, b chunker.PBLink) int { return strings.Compare(a.Name, b.Name) })
	out := make([]EntryJSON, 0, len(links))
	for _, l := range links {
		e := EntryJSON{Name: l.Name, CID: l.Hash.String(), Size: l.Tsize}
		if l.Hash.Type() == chunker.CodecDagPB {
			if cb, err := n.store.Get(ctx, l.Hash); err == nil {
				if _, cfs, err := decodeUnixFS(cb); err == nil {
					e.Dir = cfs.Type == chunker.TypeDirectory || cfs.Type == chunker.TypeHAMTShard
					if !e.Dir {
						e.Size = cfs.FileSize
					}
				}
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// decodeUnixFS decodes a dag-pb node and its UnixFS data.
func decodeUnixFS(b []byte) (*chunker.PBNode, *chunker.FSData, error) {
	pb, err := chunker.DecodePBNode(b)
	if err != nil {
		return nil, nil, err
	}
	if pb.Data == nil {
		return nil, nil, fmt.Errorf("%w: no UnixFS data", chunker.ErrMalformed)
	}
	fs, err := chunker.DecodeFSData(pb.Data)
	if err != nil {
		return nil, nil, err
	}
	return pb, fs, nil
}

// Remove drops a root: a kept one stops being kept and provided (freeing
// what no other kept root uses; files shared by reference are never
// deleted); one being fetched is cancelled and its partial data removed;
// a failed or cancelled one is forgotten.
func (n *Node) Remove(ctx context.Context, root string) (CancelResult, error) {
	c, err := parseRoot(root)
	if err != nil {
		return CancelResult{}, err
	}
	res := CancelResult{CID: c.String(), Action: "removed"}
	if dl := n.running(c); dl != nil {
		n.cancelDownload(dl, false)
		n.unprovide(ctx, c)
		res.Action = "cancelled"
		return res, nil
	}
	if n.swarm.Forget(c) {
		res.Action = "forgotten"
		return res, nil
	}
	n.swarm.Drop(c)
	if err := n.store.Remove(c); err != nil {
		if errors.Is(err, chunker.ErrNotKept) && n.incoming(c) {
			if err := n.abortIncoming(c, false); err != nil {
				return CancelResult{}, err
			}
			n.unprovide(ctx, c)
			res.Action = "cancelled"
			return res, nil
		}
		return CancelResult{}, contentError(err)
	}
	if _, err := n.dht.Unprovide(ctx, c); err != nil {
		return CancelResult{}, fmt.Errorf("stop providing %s: %w", c, err)
	}
	return res, nil
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
