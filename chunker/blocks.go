package chunker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/ipfs/go-cid"
)

// ErrDAGIncomplete: a set of blocks lacks some block of the DAG it was to
// hold.
var ErrDAGIncomplete = errors.New("DAG incomplete")

// WalkDAG calls fn with every block of the DAG under root once, in DAG
// order: depth first, a node before its children, children in link order
// (the order `ipfs dag export` writes a CAR in). Blocks are read through g,
// which verifies them; data is valid only during the call. It holds the
// set of CIDs seen and the links of the nodes on the current path.
func WalkDAG(ctx context.Context, g Getter, root cid.Cid, fn func(c cid.Cid, data []byte) error) error {
	return walkDAG(ctx, g, root, ScopeAll, map[cid.Cid]struct{}{}, fn)
}

// Scope says how much of what a path names a walk takes (the dag-scope
// of the IPFS trustless gateway).
type Scope int

const (
	// ScopeAll is the whole DAG.
	ScopeAll Scope = iota
	// ScopeEntity is a whole file, or a directory's own blocks (a basic
	// directory's node, or every shard node of a HAMT) without its
	// entries, or a symlink's block.
	ScopeEntity
	// ScopeBlock is the one block.
	ScopeBlock
)

// WalkPath calls fn with the blocks that prove path p under root (every
// directory node and HAMT shard read to follow it), then the blocks of
// what it names in the given scope: each block once, in DAG order, read
// and verified through g. It returns the CID the path names.
func WalkPath(ctx context.Context, g Getter, root cid.Cid, p string, scope Scope, fn func(c cid.Cid, data []byte) error) (cid.Cid, error) {
	var onPath []cid.Cid
	load := getterLoader(ctx, g)
	target, err := resolvePath(ctx, root, p, func(c cid.Cid) (node, bool, error) {
		onPath = append(onPath, c)
		return load(c)
	})
	if err != nil {
		return cid.Undef, err
	}
	seen := map[cid.Cid]struct{}{}
	for _, c := range onPath {
		if _, ok := seen[c]; ok {
			continue
		}
		seen[c] = struct{}{}
		b, err := g.Get(ctx, c)
		if err != nil {
			return cid.Undef, err
		}
		if err := fn(c, b); err != nil {
			return cid.Undef, err
		}
	}
	return target, walkDAG(ctx, g, target, scope, seen, fn)
}

func walkDAG(ctx context.Context, g Getter, root cid.Cid, scope Scope, seen map[cid.Cid]struct{}, fn func(c cid.Cid, data []byte) error) error {
	var walk func(c cid.Cid, depth int) error
	walk = func(c cid.Cid, depth int) error {
		if _, ok := seen[c]; ok {
			return nil
		}
		seen[c] = struct{}{}
		if depth > maxDepth {
			return blockErr("walk", c, fmt.Errorf("%w: DAG deeper than %d", ErrMalformed, maxDepth))
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := checkCID(c); err != nil {
			return err
		}
		b, err := g.Get(ctx, c)
		if err != nil {
			return err
		}
		var links []PBLink
		if c.Type() == CodecDagPB && scope != ScopeBlock {
			pb, err := DecodePBNode(b)
			if err != nil {
				return blockErr("walk", c, err)
			}
			links = pb.Links // decoded into their own memory, not b's
			if scope == ScopeEntity {
				if links, err = entityLinks(c, pb); err != nil {
					return err
				}
			}
		}
		if err := fn(c, b); err != nil {
			return err
		}
		for _, l := range links {
			if err := walk(l.Hash, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(root, 0)
}

// entityLinks are the links of pb that belong to the same entity: all of
// a file node's, none of a basic directory's, the sub-shards of a HAMT
// shard (links named by a slot index alone).
func entityLinks(c cid.Cid, pb *PBNode) ([]PBLink, error) {
	if pb.Data == nil {
		return pb.Links, nil
	}
	fs, err := DecodeFSData(pb.Data)
	if err != nil {
		return nil, blockErr("walk", c, err)
	}
	switch fs.Type {
	case TypeDirectory:
		return nil, nil
	case TypeHAMTShard:
		pad := len(strconv.FormatUint(max(fs.Fanout, 2)-1, 16))
		var sub []PBLink
		for _, l := range pb.Links {
			if len(l.Name) == pad {
				sub = append(sub, l)
			}
		}
		return sub, nil
	}
	return pb.Links, nil
}

// ImportBlocks keeps the DAGs of roots from a stream of blocks (a CAR's
// sections: next returns io.EOF after the last; any other error stops
// the import). Every block is verified against its CID before it is
// stored, in the index; only CIDs Verify accepts are taken. Each root
// must then be whole (every block it reaches is in the stream, else
// ErrDAGIncomplete naming the first missing one) and a UnixFS file,
// directory or symlink that the layout rules accept. Blocks no root
// reaches are dropped. Nothing is kept unless all of it succeeds: on any
// error every block stored so far is released (and a crash midway is
// rolled back at the next Open, like any import). A root that is already
// kept stays as it is (its record, name and references are not touched)
// and is reported like the others.
func (s *Store) ImportBlocks(ctx context.Context, roots []cid.Cid, next func() (cid.Cid, []byte, error)) ([]RootInfo, error) {
	for _, r := range roots {
		if err := checkCID(r); err != nil {
			return nil, fmt.Errorf("import blocks: root: %w", err)
		}
	}
	stream, err := s.newOwner(pendingImport)
	if err != nil {
		return nil, fmt.Errorf("import blocks: %w", err)
	}
	owners := []uint64{stream}
	fail := func(err error) ([]RootInfo, error) {
		for _, o := range owners {
			if rerr := s.release(o, nil); rerr != nil {
				s.log.Error("rolling back failed block import", "err", rerr)
			}
		}
		return nil, fmt.Errorf("import blocks: %w", err)
	}
	w := &ownedBatch{s: s, owner: stream}
	n := 0
	for {
		c, data, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(fmt.Errorf("after %d blocks: %w", n, err))
		}
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		if err := Verify(c, data); err != nil {
			return fail(fmt.Errorf("block %d: %w", n+1, err))
		}
		if err := w.node(c, data); err != nil {
			return fail(err)
		}
		n++
	}
	if err := w.flush(false); err != nil {
		return fail(err)
	}
	out := make([]RootInfo, 0, len(roots))
	for _, r := range roots {
		if info, err := s.Root(r); err == nil {
			out = append(out, info)
			continue
		}
		owner, err := s.newOwner(pendingImport)
		if err != nil {
			return fail(err)
		}
		owners = append(owners, owner)
		info, err := s.keepImported(ctx, owner, r)
		if err != nil {
			return fail(err)
		}
		out = append(out, info)
	}
	// The stream's owner goes: blocks some root took stay with it, the
	// rest are dropped.
	if err := s.release(stream, nil); err != nil {
		return nil, fmt.Errorf("import blocks: %w", err)
	}
	return out, nil
}

// keepImported makes root, whose blocks are all in the index, a kept root
// of owner: it checks the layout, marks every block of the DAG as the
// owner's, and commits the root.
func (s *Store) keepImported(ctx context.Context, owner uint64, root cid.Cid) (RootInfo, error) {
	w := &ownedBatch{s: s, owner: owner}
	var e Entry
	kind := byte(kindFile)
	err := WalkDAG(ctx, s, root, func(c cid.Cid, data []byte) error {
		e.Blocks++
		return w.node(c, data)
	})
	if errors.Is(err, ErrNotFound) {
		var be *BlockError
		errors.As(err, &be)
		return RootInfo{}, fmt.Errorf("root %s: %w: block %s is not in it", root, ErrDAGIncomplete, be.Cid)
	}
	if err != nil {
		return RootInfo{}, fmt.Errorf("root %s: %w", root, err)
	}
	if root.Type() == CodecRaw {
		b, err := s.Get(ctx, root)
		if err != nil {
			return RootInfo{}, err
		}
		e.Size = uint64(len(b))
	} else {
		l, err := buildLayout(ctx, root, s.getNode)
		if err != nil {
			return RootInfo{}, fmt.Errorf("root %s: %w", root, err)
		}
		e.Size = uint64(max(l.Size, 0))
		switch f := l.Files[0]; {
		case f.Dir:
			kind = kindDir
		case f.Symlink != "":
			kind = kindSymlink
		}
	}
	e.Cid = root
	if err := s.commitRoot(w, e, kind, ""); err != nil {
		return RootInfo{}, err
	}
	s.log.Info("imported", "cid", root, "size", e.Size, "blocks", e.Blocks)
	return RootInfo{Cid: root, Size: e.Size, Blocks: uint64(e.Blocks), Dir: kind == kindDir}, nil
}
