package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrNoDaemon is returned by the client when no daemon serves the repo.
var ErrNoDaemon = errors.New("no daemon is running")

// ErrDaemonStopped is returned by Fetch when the daemon stopped (or went
// away) during the fetch: the fetch is paused, not failed.
var ErrDaemonStopped = errors.New("daemon stopped; the fetch will resume when it starts again")

// maxResponseBody bounds a JSON answer from the API.
const maxResponseBody = 64 << 20

// Client talks to a running daemon through its HTTP API, finding it through
// the api and api.token files in the repo.
type Client struct {
	repo  string
	base  string
	token string
	http  *http.Client
}

// NewClient finds the daemon serving the repo at path.
func NewClient(path string) (*Client, error) {
	if _, err := os.Stat(filepath.Join(path, ConfigFile)); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s (create one with 'myco init')", ErrNoRepo, path)
	}
	noDaemon := fmt.Errorf("%w for repo %s (start one with 'myco daemon')", ErrNoDaemon, path)
	addr, err := readSmallFile(filepath.Join(path, APIFile), 256)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, noDaemon
	} else if err != nil {
		return nil, fmt.Errorf("read api address: %w", err)
	}
	tok, err := readSmallFile(filepath.Join(path, TokenFile), 256)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, noDaemon
	} else if err != nil {
		return nil, fmt.Errorf("read api token: %w", err)
	}
	return &Client{
		repo:  path,
		base:  "http://" + strings.TrimSpace(string(addr)),
		token: strings.TrimSpace(string(tok)),
		http:  &http.Client{},
	}, nil
}

// Do sends a request to the API and decodes the JSON answer into out (which
// may be nil). A body, when not nil, is sent as JSON.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBody)).Decode(out); err != nil {
		return fmt.Errorf("%s %s: bad answer from daemon: %w", method, path, err)
	}
	return nil
}

// Stream sends a request and returns the raw answer body for the caller to
// read (file contents, progress events). The caller closes it.
func (c *Client) Stream(ctx context.Context, method, path string, body any) (io.ReadCloser, error) {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

func (c *Client) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	if body == nil {
		return c.sendRaw(ctx, method, path, nil, "")
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return c.sendRaw(ctx, method, path, bytes.NewReader(b), "application/json")
}

// sendRaw sends a request whose body (nil for none) is streamed as it is,
// with its content type.
func (c *Client) sendRaw(ctx context.Context, method, path string, rd io.Reader, contentType string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if isConnRefused(err) {
			return nil, fmt.Errorf("%w for repo %s (its api file is stale; start one with 'myco daemon')", ErrNoDaemon, c.repo)
		}
		return nil, fmt.Errorf("reach the daemon at %s: %w", c.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e apiError
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return nil, &APIError{Status: resp.StatusCode, Message: e.Error}
		}
		return nil, &APIError{Status: resp.StatusCode, Message: strings.TrimSpace(string(b))}
	}
	return resp, nil
}

// APIError is an error answered by the daemon.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return e.Message }

// ID asks the daemon who it is.
func (c *Client) ID(ctx context.Context) (IDInfo, error) {
	var v IDInfo
	err := c.Do(ctx, http.MethodGet, "/api/v0/id", nil, &v)
	return v, err
}

// Peers lists the daemon's connected peers.
func (c *Client) Peers(ctx context.Context) ([]PeerInfo, error) {
	var v []PeerInfo
	err := c.Do(ctx, http.MethodGet, "/api/v0/peers", nil, &v)
	return v, err
}

// Connect asks the daemon to dial a peer.
func (c *Client) Connect(ctx context.Context, addr string) (string, error) {
	var v ConnectResponse
	err := c.Do(ctx, http.MethodPost, "/api/v0/connect", ConnectRequest{Addr: addr}, &v)
	return v.ID, err
}

// FindProviders streams the providers of root c to found as the daemon
// finds them, at most num (0: no limit), for at most timeout (0: the
// daemon's default).
func (c *Client) FindProviders(ctx context.Context, root string, num int, timeout time.Duration, found func(ProviderInfo) error) error {
	q := url.Values{"cid": {root}, "num": {strconv.Itoa(num)}}
	if timeout > 0 {
		q.Set("timeout", timeout.String())
	}
	body, err := c.Stream(ctx, http.MethodGet, "/api/v0/dht/findprovs?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	defer body.Close()
	return decodeStream(body, func(p *ProviderInfo) error { return found(*p) })
}

// DHTPeers lists the daemon's routing table.
func (c *Client) DHTPeers(ctx context.Context) ([]DHTPeer, error) {
	var v []DHTPeer
	err := c.Do(ctx, http.MethodGet, "/api/v0/dht/peers", nil, &v)
	return v, err
}

// DHTStat reports the daemon's DHT state.
func (c *Client) DHTStat(ctx context.Context) (DHTStats, error) {
	var v DHTStats
	err := c.Do(ctx, http.MethodGet, "/api/v0/dht/stat", nil, &v)
	return v, err
}

// maxStreamLine bounds one line of a newline-delimited JSON answer.
const maxStreamLine = 1 << 20

// decodeStream reads newline-delimited JSON values of type T from r and
// hands each to f, stopping at the end of r or the first error.
func decodeStream[T any](r io.Reader, f func(*T) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxStreamLine)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return fmt.Errorf("bad answer from daemon: %w", err)
		}
		if err := f(&v); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read answer from daemon: %w", err)
	}
	return nil
}

// Share asks the daemon to import and keep the file or directory at an
// absolute path.
func (c *Client) Share(ctx context.Context, req ShareRequest) (RootJSON, error) {
	var v RootJSON
	err := c.Do(ctx, http.MethodPost, "/api/v0/share", req, &v)
	return v, err
}

// Roots lists the daemon's kept roots.
func (c *Client) Roots(ctx context.Context) ([]RootJSON, error) {
	var v []RootJSON
	err := c.Do(ctx, http.MethodGet, "/api/v0/ls", nil, &v)
	return v, err
}

// ListDir lists the entries of a directory root.
func (c *Client) ListDir(ctx context.Context, root string) ([]EntryJSON, error) {
	var v []EntryJSON
	err := c.Do(ctx, http.MethodGet, "/api/v0/ls?"+url.Values{"cid": {root}}.Encode(), nil, &v)
	return v, err
}

// Remove asks the daemon to drop a root: a kept one, one being fetched
// (cancelled) or a failed one (forgotten).
func (c *Client) Remove(ctx context.Context, root string) (CancelResult, error) {
	var v CancelResult
	err := c.Do(ctx, http.MethodPost, "/api/v0/rm", CIDRequest{CID: root}, &v)
	return v, err
}

// Cancel asks the daemon to stop fetching a root and remove its partial
// data (unless keepPartial).
func (c *Client) Cancel(ctx context.Context, root string, keepPartial bool) (CancelResult, error) {
	var v CancelResult
	err := c.Do(ctx, http.MethodPost, "/api/v0/cancel", CancelRequest{CID: root, KeepPartial: keepPartial}, &v)
	return v, err
}

// Cat copies the file at root to w; when the daemon has to fetch it first,
// timeout bounds the wait for a peer that has it (0: the daemon's default). An error the daemon met after it
// started sending (a block failing verification) is returned too.
func (c *Client) Cat(ctx context.Context, root string, timeout time.Duration, w io.Writer) (int64, error) {
	return c.streamGet(ctx, "/api/v0/cat", "cat", root, timeout, w)
}

// streamGet copies the answer of a GET ?cid=root[&timeout=D] to w; an
// error the daemon met after it began answering comes in a trailer.
func (c *Client) streamGet(ctx context.Context, path, what, root string, timeout time.Duration, w io.Writer) (int64, error) {
	q := url.Values{"cid": {root}}
	if timeout > 0 {
		q.Set("timeout", timeout.String())
	}
	resp, err := c.send(ctx, http.MethodGet, path+"?"+q.Encode(), nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("%s %s: %w", what, root, err)
	}
	if msg := resp.Trailer.Get(catErrorTrailer); msg != "" {
		return n, &APIError{Status: http.StatusConflict, Message: msg}
	}
	return n, nil
}

// ChainStatus asks for the tip of the daemon's chain.
func (c *Client) ChainStatus(ctx context.Context) (ChainStatus, error) {
	var v ChainStatus
	err := c.Do(ctx, http.MethodGet, "/api/v0/chain/status", nil, &v)
	return v, err
}

// Block asks for a block by height or hash.
func (c *Client) Block(ctx context.Context, id string) (BlockJSON, error) {
	var v BlockJSON
	err := c.Do(ctx, http.MethodGet, "/api/v0/chain/block?"+url.Values{"id": {id}}.Encode(), nil, &v)
	return v, err
}

// Balance asks for an address's balance; "" is the daemon's own wallet.
func (c *Client) Balance(ctx context.Context, addr string) (BalanceJSON, error) {
	var v BalanceJSON
	err := c.Do(ctx, http.MethodGet, "/api/v0/wallet/balance?"+url.Values{"address": {addr}}.Encode(), nil, &v)
	return v, err
}

// Send asks the daemon to sign and submit a transfer.
func (c *Client) Send(ctx context.Context, req SendRequest) (TxIDJSON, error) {
	var v TxIDJSON
	err := c.Do(ctx, http.MethodPost, "/api/v0/send", req, &v)
	return v, err
}

// Mine starts the miner on threads goroutines, or stops it when threads is 0.
func (c *Client) Mine(ctx context.Context, threads int) (MineStatus, error) {
	var v MineStatus
	var err error
	if threads == 0 {
		err = c.Do(ctx, http.MethodPost, "/api/v0/mine/stop", struct{}{}, &v)
	} else {
		err = c.Do(ctx, http.MethodPost, "/api/v0/mine/start", MineRequest{Threads: threads}, &v)
	}
	return v, err
}

// MineStatus reports the daemon's miner.
func (c *Client) MineStatus(ctx context.Context) (MineStatus, error) {
	var v MineStatus
	err := c.Do(ctx, http.MethodGet, "/api/v0/mine/status", nil, &v)
	return v, err
}

// WaitHeight blocks until the daemon's chain reaches height, or timeout.
func (c *Client) WaitHeight(ctx context.Context, height uint64, timeout time.Duration) (ChainStatus, error) {
	var v ChainStatus
	q := url.Values{"height": {strconv.FormatUint(height, 10)}, "timeout": {timeout.String()}}
	err := c.Do(ctx, http.MethodGet, "/api/v0/chain/wait?"+q.Encode(), nil, &v)
	return v, err
}

// Publish anchors a CID, optionally under a name.
func (c *Client) Publish(ctx context.Context, req PublishRequest) (PublishResult, error) {
	var v PublishResult
	err := c.Do(ctx, http.MethodPost, "/api/v0/publish", req, &v)
	return v, err
}

// Verify asks for the proof of existence of a CID.
func (c *Client) Verify(ctx context.Context, root string) (VerifyJSON, error) {
	var v VerifyJSON
	err := c.Do(ctx, http.MethodGet, "/api/v0/verify?"+url.Values{"cid": {root}}.Encode(), nil, &v)
	return v, err
}

// Resolve asks what a name points to.
func (c *Client) Resolve(ctx context.Context, name string) (NameJSON, error) {
	var v NameJSON
	err := c.Do(ctx, http.MethodGet, "/api/v0/resolve?"+url.Values{"name": {name}}.Encode(), nil, &v)
	return v, err
}

// Fetch asks the daemon to download a root (CID or name) to an absolute
// path, handing each progress event to onEvent; it returns the final one.
// If the daemon stops during the fetch (or its answer breaks off), the
// error is ErrDaemonStopped.
func (c *Client) Fetch(ctx context.Context, req FetchRequest, onEvent func(FetchEvent)) (FetchEvent, error) {
	body, err := c.Stream(ctx, http.MethodPost, "/api/v0/fetch", req)
	if err != nil {
		return FetchEvent{}, err
	}
	defer body.Close()
	var last FetchEvent
	err = decodeStream(body, func(ev *FetchEvent) error {
		last = *ev
		if ev.Type == "error" {
			if ev.Stopped {
				return ErrDaemonStopped
			}
			return &APIError{Status: http.StatusBadGateway, Message: ev.Error}
		}
		onEvent(*ev)
		return nil
	})
	if err != nil {
		var ae *APIError
		if ctx.Err() == nil && !errors.As(err, &ae) && !errors.Is(err, ErrDaemonStopped) {
			// The answer broke off: the daemon died or was stopped.
			return last, fmt.Errorf("%w (the daemon went away during the fetch of %s: %v)", ErrDaemonStopped, req.Root, err)
		}
		return last, err
	}
	if last.Type != "done" {
		if ctx.Err() != nil {
			return last, ctx.Err()
		}
		return last, fmt.Errorf("%w (the daemon stopped answering during the fetch of %s)", ErrDaemonStopped, req.Root)
	}
	return last, nil
}

// SwarmStats lists per-peer exchange accounting.
func (c *Client) SwarmStats(ctx context.Context) ([]SwarmPeerInfo, error) {
	var v []SwarmPeerInfo
	err := c.Do(ctx, http.MethodGet, "/api/v0/swarm/stats", nil, &v)
	return v, err
}

// Stat reports a root's session.
func (c *Client) Stat(ctx context.Context, root string) (SessionJSON, error) {
	var v SessionJSON
	err := c.Do(ctx, http.MethodGet, "/api/v0/stat?"+url.Values{"cid": {root}}.Encode(), nil, &v)
	return v, err
}

// SetLimits changes (or, with an empty request, reads) the swarm's limits.
func (c *Client) SetLimits(ctx context.Context, req LimitsRequest) (LimitsJSON, error) {
	var v LimitsJSON
	err := c.Do(ctx, http.MethodPost, "/api/v0/swarm/limits", req, &v)
	return v, err
}
