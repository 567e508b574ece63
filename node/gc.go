package node

import (
	"context"
	"net/http"

	"github.com/myco-p2p/myco/chunker"
)

// GCJSON is what `myco gc` freed.
type GCJSON struct {
	// Owners is the number of imports or fetches that nothing held any
	// more and were released.
	Owners int `json:"owners"`
	// Blocks are the blocks whose bytes were deleted; Bytes their total.
	Blocks []string `json:"blocks"`
	Bytes  int64    `json:"bytes"`
}

func gcJSON(r chunker.GCResult) GCJSON {
	out := GCJSON{Owners: r.Owners, Bytes: r.Bytes, Blocks: make([]string, 0, len(r.Blocks))}
	for _, c := range r.Blocks {
		out.Blocks = append(out.Blocks, c.String())
	}
	return out
}

// GC frees the blocks no kept root, fetch or unfinished import uses (see
// chunker.Store.GC) and says what it freed.
func (n *Node) GC(ctx context.Context) (GCJSON, error) {
	res, err := n.store.GC(ctx)
	if res.Owners > 0 || len(res.Blocks) > 0 {
		n.log.Info("gc freed blocks", "owners", res.Owners, "blocks", len(res.Blocks), "bytes", res.Bytes)
	}
	return gcJSON(res), err
}

// GC asks the daemon to collect garbage.
func (c *Client) GC(ctx context.Context) (GCJSON, error) {
	var out GCJSON
	return out, c.Do(ctx, http.MethodPost, "/api/v0/gc", struct{}{}, &out)
}
