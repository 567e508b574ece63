package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// ExportCAR streams root's DAG as a CARv1 to w (see Node.ExportCAR).
func (c *Client) ExportCAR(ctx context.Context, root string, timeout time.Duration, w io.Writer) (int64, error) {
	return c.streamGet(ctx, "/api/v0/export", "export", root, timeout, w)
}

// ImportCAR sends a CAR to the daemon, which verifies and keeps it.
func (c *Client) ImportCAR(ctx context.Context, r io.Reader) (CARImportJSON, error) {
	var v CARImportJSON
	resp, err := c.sendRaw(ctx, http.MethodPost, "/api/v0/import", r, CARContentType)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBody)).Decode(&v); err != nil {
		return v, fmt.Errorf("import: bad answer from daemon: %w", err)
	}
	return v, nil
}
