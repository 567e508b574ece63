package chunker

import (
	"context"
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"github.com/ipfs/go-cid"
	"github.com/spaolacci/murmur3"
)

// HAMT-sharded directories, as IPFS's unixfs-v1-2025 profile writes them.
const (
	// HAMTFanout is the number of slots of every shard node this package
	// writes (IPFS's default shard width).
	HAMTFanout = 256
	// HashMurmur3 is the multicodec of murmur3-x64-64, the hash of entry
	// names that places them in a shard (the only one IPFS uses).
	HashMurmur3 = 0x22
	// maxHAMTFanout bounds the fanout this package reads (boxo's limit).
	maxHAMTFanout = 1024
)

// hamtHash is murmur3-x64-64 (seed 0) of name: the first 64 bits of
// murmur3-x64-128, read as a big-endian number, as IPFS hashes names.
func hamtHash(name string) uint64 { return murmur3.Sum64([]byte(name)) }

// hamtEntry is one directory entry being placed in a shard.
type hamtEntry struct {
	link PBLink // Name is the entry's own name
	hash uint64
}

// writeDir writes the directory node(s) for links, which are sorted by
// name: one basic directory node if its encoded block is at most
// MaxDirBlockSize, a HAMT of shard nodes otherwise (the unixfs-v1-2025
// rule: shard once the plain block would pass 256 KiB). It returns the
// directory's CID, its cumulative size (its blocks plus every link's
// Tsize) and the number of blocks written.
func writeDir(links []PBLink, sink Sink) (cid.Cid, uint64, int, error) {
	data := AppendPBNode(nil, &PBNode{Links: links, Data: dirData()})
	if len(data) <= MaxDirBlockSize {
		c := sumCID(CodecDagPB, data)
		tsize := uint64(len(data))
		for _, l := range links {
			tsize += l.Tsize
		}
		return c, tsize, 1, sink.Node(c, data)
	}
	ents := make([]hamtEntry, len(links))
	for i, l := range links {
		ents[i] = hamtEntry{link: l, hash: hamtHash(l.Name)}
	}
	return writeShard(ents, 0, sink)
}

// writeShard writes the shard node at the given depth holding ents (all of
// which share the hash bits of the levels above) and the sub-shards below
// it, children first. Each level takes the next 8 bits of the hash, most
// significant first. A slot holding one entry links to it under the name
// "%02X" of the slot followed by the entry's name; a slot holding several
// links to a sub-shard under the name "%02X" alone. Links are in slot
// order; Data is UnixFS {Type: HAMTShard, Data: the slot bitfield
// (big-endian, slot i is bit i%8 of byte 31-i/8, leading zero bytes
// dropped), hashType: murmur3, fanout: 256}.
func writeShard(ents []hamtEntry, depth int, sink Sink) (cid.Cid, uint64, int, error) {
	const bitsPerLevel = 8
	if (depth+1)*bitsPerLevel > 64 {
		return cid.Undef, 0, 0, fmt.Errorf("%w: names %q and %q have the same murmur3 hash; a HAMT cannot hold both",
			ErrTooLarge, ents[0].link.Name, ents[1].link.Name)
	}
	shift := 64 - (depth+1)*bitsPerLevel
	var slots [HAMTFanout][]hamtEntry
	for _, e := range ents {
		i := int(e.hash>>shift) & (HAMTFanout - 1)
		slots[i] = append(slots[i], e)
	}
	var bitfield [HAMTFanout / 8]byte
	links := make([]PBLink, 0, min(len(ents), HAMTFanout))
	blocks := 1
	for i, s := range slots {
		switch len(s) {
		case 0:
			continue
		case 1:
			l := s[0].link
			l.Name = fmt.Sprintf("%02X", i) + l.Name
			links = append(links, l)
		default:
			c, tsize, n, err := writeShard(s, depth+1, sink)
			if err != nil {
				return cid.Undef, 0, 0, err
			}
			blocks += n
			links = append(links, PBLink{Hash: c, Name: fmt.Sprintf("%02X", i), Tsize: tsize})
		}
		bitfield[len(bitfield)-1-i/8] |= 1 << (i % 8)
	}
	bf := bitfield[:]
	for len(bf) > 0 && bf[0] == 0 {
		bf = bf[1:]
	}
	fs := FSData{Type: TypeHAMTShard, Data: bf, HashType: HashMurmur3, Fanout: HAMTFanout}
	data := AppendPBNode(nil, &PBNode{Links: links, Data: AppendFSData(nil, &fs)})
	c := sumCID(CodecDagPB, data)
	tsize := uint64(len(data))
	for _, l := range links {
		tsize += l.Tsize
	}
	if err := sink.Node(c, data); err != nil {
		return cid.Undef, 0, 0, err
	}
	return c, tsize, blocks, nil
}

// nodeLoader returns a decoded dag-pb node, or ok=false if it is not
// available yet (a fetch still missing it).
type nodeLoader func(c cid.Cid) (nd node, ok bool, err error)

// shardItem is one link of a shard node, classified.
type shardItem struct {
	link  PBLink // for an entry, Name is the entry's own name
	shard bool   // a sub-shard, not an entry
}

// shardParams are what a HAMT walk carries from level to level.
type shardParams struct {
	fanout uint64
	bits   int // hash bits per level: log2(fanout)
	pad    int // hex digits of a slot index in link names
}

// readShard checks a HAMT shard node and returns its links classified. The
// rules, each checked here: Type HAMTShard with hashType murmur3; fanout a
// power of two in [8, 1024], the same as the parent's (fp, or the root's
// when fp is nil); a bitfield no longer than fanout/8 bytes with one bit
// set per link; every link name starts with the slot index in hex (pad
// digits), slots strictly increasing and set in the bitfield; a link whose
// name is the index alone is a dag-pb sub-shard, any other is an entry
// whose name's hash lands in this slot (prefix holds the hash bits of the
// levels above, depth the level); the hash has bits enough for the level.
func readShard(c cid.Cid, nd node, fp *shardParams, prefix uint64, depth int) ([]shardItem, shardParams, error) {
	bad := func(format string, a ...any) error {
		return blockErr("read shard", c, fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, a...)...))
	}
	var p shardParams
	if nd.pb == nil || nd.fs.Type != TypeHAMTShard {
		return nil, p, bad("not a HAMT shard")
	}
	if nd.fs.HashType != HashMurmur3 {
		return nil, p, bad("hash type %#x (want murmur3 %#x)", nd.fs.HashType, HashMurmur3)
	}
	f := nd.fs.Fanout
	if f < 8 || f > maxHAMTFanout || f&(f-1) != 0 {
		return nil, p, bad("fanout %d (want a power of two in [8, %d])", f, maxHAMTFanout)
	}
	p = shardParams{fanout: f, bits: bits.TrailingZeros64(f), pad: len(strconv.FormatUint(f-1, 16))}
	if fp != nil && fp.fanout != f {
		return nil, p, bad("fanout %d below a shard of fanout %d", f, fp.fanout)
	}
	if (depth+1)*p.bits > 64 {
		return nil, p, bad("shard nested %d deep: the hash has no bits left", depth+1)
	}
	bf := nd.fs.Data
	if uint64(len(bf)) > f/8 {
		return nil, p, bad("bitfield of %d bytes for fanout %d", len(bf), f)
	}
	set := 0
	for _, b := range bf {
		set += bits.OnesCount8(b)
	}
	if set != len(nd.pb.Links) {
		return nil, p, bad("%d slots set for %d links", set, len(nd.pb.Links))
	}
	items := make([]shardItem, len(nd.pb.Links))
	shift := 64 - (depth+1)*p.bits
	last := int64(-1)
	for i, l := range nd.pb.Links {
		if len(l.Name) < p.pad {
			return nil, p, bad("link name %q has no slot index", l.Name)
		}
		slot, err := strconv.ParseUint(l.Name[:p.pad], 16, 32)
		if err != nil {
			return nil, p, bad("link name %q has no slot index", l.Name)
		}
		if int64(slot) <= last || slot >= f {
			return nil, p, bad("slot %d out of order or beyond the fanout", slot)
		}
		last = int64(slot)
		if k := len(bf) - 1 - int(slot/8); k < 0 || bf[k]&(1<<(slot%8)) == 0 {
			return nil, p, bad("slot %d is not set in the bitfield", slot)
		}
		want := prefix<<p.bits | slot
		if len(l.Name) == p.pad {
			if l.Hash.Type() != CodecDagPB {
				return nil, p, bad("sub-shard %s is not dag-pb", l.Hash)
			}
			items[i] = shardItem{link: l, shard: true}
			continue
		}
		name := l.Name[p.pad:]
		if hamtHash(name)>>shift != want {
			return nil, p, bad("entry %q is in slot %d, which its hash does not lead to", name, slot)
		}
		l.Name = name
		items[i] = shardItem{link: l}
	}
	return items, p, nil
}

// walkDir calls fn with every entry of the directory nd (at c) in DAG
// order: a basic directory's links, or the entries of a HAMT across its
// sub-shards, loaded with load. Entry names are checked with CheckName. It
// returns false if some sub-shard is not available yet (its entries are
// skipped; the loader knows which).
func walkDir(c cid.Cid, nd node, load nodeLoader, fn func(l PBLink) error) (bool, error) {
	if nd.pb == nil {
		return false, blockErr("read directory", c, fmt.Errorf("%w: not a directory", ErrNotDir))
	}
	switch nd.fs.Type {
	case TypeDirectory:
		for _, l := range append([]PBLink(nil), nd.pb.Links...) {
			if err := CheckName(l.Name); err != nil {
				return false, blockErr("read directory", c, err)
			}
			if err := fn(l); err != nil {
				return false, err
			}
		}
		return true, nil
	case TypeHAMTShard:
		return walkShard(c, nd, load, fn, nil, 0, 0)
	}
	return false, blockErr("read directory", c, fmt.Errorf("%w: UnixFS type %d", ErrNotDir, nd.fs.Type))
}

func walkShard(c cid.Cid, nd node, load nodeLoader, fn func(l PBLink) error, fp *shardParams, prefix uint64, depth int) (bool, error) {
	items, p, err := readShard(c, nd, fp, prefix, depth)
	if err != nil {
		return false, err
	}
	complete := true
	for _, it := range items {
		if !it.shard {
			if err := CheckName(it.link.Name); err != nil {
				return false, blockErr("read shard", c, err)
			}
			if err := fn(it.link); err != nil {
				return false, err
			}
			continue
		}
		child, ok, err := load(it.link.Hash)
		if err != nil {
			return false, err
		}
		if !ok {
			complete = false
			continue
		}
		slot, _ := strconv.ParseUint(it.link.Name, 16, 32)
		done, err := walkShard(it.link.Hash, child, load, fn, &p, prefix<<p.bits|slot, depth+1)
		if err != nil {
			return false, err
		}
		complete = complete && done
	}
	return complete, nil
}

// lookupDir finds the entry called name in the directory nd (at c): a
// linear scan of a basic directory, or the path its hash leads along in a
// HAMT. ErrNoEntry if there is none.
func lookupDir(c cid.Cid, nd node, load nodeLoader, name string) (PBLink, error) {
	if nd.pb == nil || (nd.fs.Type != TypeDirectory && nd.fs.Type != TypeHAMTShard) {
		return PBLink{}, blockErr("look up", c, fmt.Errorf("%w: %q is looked up in something that is not a directory", ErrNotDir, name))
	}
	if nd.fs.Type == TypeDirectory {
		for _, l := range nd.pb.Links {
			if l.Name == name {
				return l, nil
			}
		}
		return PBLink{}, fmt.Errorf("%w: %q", ErrNoEntry, name)
	}
	h := hamtHash(name)
	var fp *shardParams
	var prefix uint64
	for depth := 0; ; depth++ {
		items, p, err := readShard(c, nd, fp, prefix, depth)
		if err != nil {
			return PBLink{}, err
		}
		slot := h << (depth * p.bits) >> (64 - p.bits)
		var next *PBLink
		for _, it := range items {
			s, _ := strconv.ParseUint(it.link.Name[:min(p.pad, len(it.link.Name))], 16, 32)
			if !it.shard && it.link.Name == name {
				return it.link, nil
			}
			if it.shard && s == slot {
				next = &it.link
			}
		}
		if next == nil {
			return PBLink{}, fmt.Errorf("%w: %q", ErrNoEntry, name)
		}
		child, ok, err := load(next.Hash)
		if err != nil {
			return PBLink{}, err
		}
		if !ok {
			return PBLink{}, blockErr("look up", next.Hash, ErrNotFound)
		}
		c, nd, fp, prefix = next.Hash, child, &p, prefix<<p.bits|slot
	}
}

// getterLoader loads nodes through a Getter (every node must be there).
func getterLoader(ctx context.Context, g Getter) nodeLoader {
	return func(c cid.Cid) (node, bool, error) {
		if err := ctx.Err(); err != nil {
			return node{}, false, err
		}
		nd, err := getNode(ctx, g, c)
		if err != nil {
			return node{}, false, err
		}
		if nd.pb == nil {
			return node{}, false, blockErr("read shard", c, fmt.Errorf("%w: raw block where a shard belongs", ErrMalformed))
		}
		// The Getter may reuse the bytes: the bitfield is copied.
		nd.fs.Data = append([]byte(nil), nd.fs.Data...)
		return nd, true, nil
	}
}

// DirEntries lists the entries of the directory at c, basic or HAMT, in
// DAG order (sorted by name for a basic directory, by hash for a HAMT).
// Each link's Name is the entry's name and Tsize its cumulative size.
func DirEntries(ctx context.Context, g Getter, c cid.Cid) ([]PBLink, error) {
	load := getterLoader(ctx, g)
	nd, _, err := load(c)
	if err != nil {
		return nil, err
	}
	var out []PBLink
	if _, err := walkDir(c, nd, load, func(l PBLink) error {
		out = append(out, l)
		return nil
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// ResolvePath follows the slash-separated path p ("" or "/" is root
// itself) from root through basic and HAMT-sharded directories and
// returns the CID it names. Every node on the way is read through g and
// verified. A missing name wraps ErrNoEntry; a name looked up in a file
// wraps ErrNotDir.
func ResolvePath(ctx context.Context, g Getter, root cid.Cid, p string) (cid.Cid, error) {
	return resolvePath(ctx, root, p, getterLoader(ctx, g))
}

func resolvePath(ctx context.Context, root cid.Cid, p string, load nodeLoader) (cid.Cid, error) {
	c := root
	for _, name := range strings.Split(p, "/") {
		if name == "" {
			continue
		}
		if err := checkCID(c); err != nil {
			return cid.Undef, err
		}
		if c.Type() == CodecRaw {
			return cid.Undef, fmt.Errorf("resolve %s/%s: %w: %q is looked up in a file", root, p, ErrNotDir, name)
		}
		nd, _, err := load(c)
		if err != nil {
			return cid.Undef, fmt.Errorf("resolve %s/%s: %w", root, p, err)
		}
		l, err := lookupDir(c, nd, load, name)
		if err != nil {
			return cid.Undef, fmt.Errorf("resolve %s/%s: %w", root, p, err)
		}
		c = l.Hash
	}
	return c, nil
}
