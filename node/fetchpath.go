package node

import (
	"context"
	"fmt"
	"path"
	"time"

	"github.com/myco-p2p/myco/chunker"
)

// fetchPath is Fetch of ROOT/PATH: the swarm trades whole roots, so the
// root is fetched (and kept) first if it is not here, then the file or
// folder PATH names inside it is written to the destination (named after
// PATH's last element when UseName), through a partial path as a kept
// root is.
func (n *Node) fetchPath(ctx context.Context, req FetchRequest, rootPart, sub string, timeout time.Duration, emit func(FetchEvent) error) error {
	root, err := n.resolveRoot(rootPart)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := n.fetchFor(ctx, root, timeout); err != nil {
		return err
	}
	c, err := n.resolvePath(ctx, root, sub)
	if err != nil {
		return err
	}
	var size int64
	if c.Type() == chunker.CodecRaw {
		b, err := n.store.Get(ctx, c)
		if err != nil {
			return contentError(err)
		}
		size = int64(len(b))
	} else {
		l, err := n.store.Leaves(ctx, c)
		if err != nil {
			return contentError(fmt.Errorf("fetch %s/%s: %w", root, sub, err))
		}
		size = l.Size
	}
	info := chunker.RootInfo{Cid: c, Name: path.Base(sub), Size: uint64(max(size, 0))}
	dest, err := n.exportKept(ctx, info, req)
	if err != nil {
		return err
	}
	return emit(FetchEvent{Type: "done", CID: c.String(), State: "done", Name: info.Name, Bytes: size,
		Seconds: time.Since(start).Seconds(), Path: dest})
}
