package node

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/myco-p2p/myco/ledger"
)

// A new name is claimed in two steps (see the ledger's package doc): a
// commitment to hash(name, salt, owner), then, NameCommitDepth blocks later,
// the claim that reveals the salt. Between the two the node keeps the salt
// in <repo>/names-pending.json, so a claim survives a restart, and submits
// the claim itself as soon as the chain allows it.

// PendingFile holds the name claims waiting for their commitment to mature.
const PendingFile = "names-pending.json"

// maxPendingFile bounds names-pending.json.
const maxPendingFile = 1 << 20

// pendingClaim is a name claim waiting for its commitment.
type pendingClaim struct {
	Name   string `json:"name"`
	CID    string `json:"cid"`
	Salt   string `json:"salt"` // hex
	Commit string `json:"commit_tx"`
	Claim  string `json:"claim_tx,omitempty"` // set once submitted
}

// claims tracks the node's pending name claims.
type claims struct {
	mu      sync.Mutex
	path    string
	pending []pendingClaim
	changed chan struct{} // closed and replaced whenever pending changes
	// submitted maps a commitment's txid to its claim's, for publishers
	// waiting on it (the pending entry may be gone by the time they look).
	submitted map[string]string
}

func loadClaims(path string) (*claims, error) {
	c := &claims{path: path, changed: make(chan struct{}), submitted: make(map[string]string)}
	b, err := readSmallFile(path, maxPendingFile)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read pending name claims: %w", err)
	}
	if err := json.Unmarshal(b, &c.pending); err != nil {
		return nil, fmt.Errorf("read pending name claims %s: %w", path, err)
	}
	return c, nil
}

// saveLocked writes the pending claims and wakes waiters; c.mu is held.
func (c *claims) saveLocked() error {
	b, err := json.MarshalIndent(c.pending, "", "  ")
	if err != nil {
		return err
	}
	close(c.changed)
	c.changed = make(chan struct{})
	return writeFileAtomic(c.path, b, 0o600)
}

// PublishRequest is the body of POST /api/v0/publish.
type PublishRequest struct {
	CID     string `json:"cid"`
	Name    string `json:"name,omitempty"`
	Fee     string `json:"fee,omitempty"`
	Timeout string `json:"timeout,omitempty"` // how long to wait for a new name's claim
}

// PublishResult answers a publish: the anchor's transaction id, and for a
// new name the commitment's too.
type PublishResult struct {
	TxID    string `json:"txid"`
	Commit  string `json:"commit_txid,omitempty"`
	Name    string `json:"name,omitempty"`
	Pending bool   `json:"pending,omitempty"` // the claim is not submitted yet
}

// Publish anchors a CID on the ledger, optionally under a name. For a name
// nobody owns it submits the commitment and waits (up to the request's
// timeout) until the claim can follow; the node submits the claim later by
// itself if the wait ends first.
func (n *Node) Publish(ctx context.Context, req PublishRequest) (PublishResult, error) {
	c, err := parseRoot(req.CID)
	if err != nil {
		return PublishResult{}, err
	}
	fee := uint64(0)
	if req.Fee != "" {
		if fee, err = ledger.ParseAmount(req.Fee); err != nil {
			return PublishResult{}, badRequest(fmt.Errorf("fee: %w", err))
		}
	}
	if req.Name == "" {
		tx, err := n.chain.NewAnchor(n.walletKey, ledger.Anchor{CID: c}, fee)
		if err != nil {
			return PublishResult{}, ledgerError(err)
		}
		id, err := n.submitTx(tx)
		return PublishResult{TxID: id.TxID}, err
	}
	if err := ledger.CheckName(req.Name); err != nil {
		return PublishResult{}, badRequest(err)
	}
	me := ledger.AddressFromPubKey(n.walletKey.PubKey())
	rec, err := n.chain.ResolveName(req.Name)
	switch {
	case err == nil && rec.Owner == me:
		// An update of our own name needs no commitment.
		tx, err := n.chain.NewAnchor(n.walletKey, ledger.Anchor{CID: c, Name: req.Name}, fee)
		if err != nil {
			return PublishResult{}, ledgerError(err)
		}
		id, err := n.submitTx(tx)
		return PublishResult{TxID: id.TxID, Name: req.Name}, err
	case err == nil:
		return PublishResult{}, &httpError{http.StatusConflict,
			fmt.Errorf("name %q is taken by %s", req.Name, rec.Owner.Encode(n.network.Params()))}
	case !errors.Is(err, ledger.ErrUnknownName):
		return PublishResult{}, err
	}

	timeout := 10 * time.Minute
	if req.Timeout != "" {
		if timeout, err = time.ParseDuration(req.Timeout); err != nil || timeout < 0 || timeout > maxWait {
			return PublishResult{}, badRequest(fmt.Errorf("timeout %q: want a duration up to %v", req.Timeout, maxWait))
		}
	}
	salt, err := ledger.NewNameSalt()
	if err != nil {
		return PublishResult{}, err
	}
	tx, err := n.chain.NewNameCommit(n.walletKey, req.Name, salt, fee)
	if err != nil {
		return PublishResult{}, ledgerError(err)
	}
	commit, err := n.submitTx(tx)
	if err != nil {
		return PublishResult{}, err
	}
	pc := pendingClaim{Name: req.Name, CID: c.String(), Salt: hex.EncodeToString(salt), Commit: commit.TxID}
	n.claims.mu.Lock()
	n.claims.pending = append(n.claims.pending, pc)
	err = n.claims.saveLocked()
	n.claims.mu.Unlock()
	if err != nil {
		return PublishResult{}, fmt.Errorf("remember the name claim: %w", err)
	}
	n.kickClaims()

	// Wait for the claim loop to submit the claim.
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		n.claims.mu.Lock()
		changed := n.claims.changed
		claim, found := n.claims.submitted[commit.TxID], false
		for _, p := range n.claims.pending {
			found = found || p.Commit == commit.TxID
		}
		if claim != "" {
			delete(n.claims.submitted, commit.TxID)
		}
		n.claims.mu.Unlock()
		if claim != "" {
			return PublishResult{TxID: claim, Commit: commit.TxID, Name: req.Name}, nil
		}
		if !found {
			return PublishResult{}, fmt.Errorf("publish %q: the claim was dropped (see the daemon's log)", req.Name)
		}
		select {
		case <-changed:
		case <-wctx.Done():
			return PublishResult{Commit: commit.TxID, Name: req.Name, Pending: true}, nil
		case <-n.ctx.Done():
			return PublishResult{}, errors.New("publish: the node is shutting down")
		}
	}
}

// kickClaims wakes the claim loop.
func (n *Node) kickClaims() {
	select {
	case n.claimKick <- struct{}{}:
	default:
	}
}

// claimLoop submits pending name claims once their commitments are deep
// enough, and forgets them once the chain shows the name as ours.
func (n *Node) claimLoop() {
	defer n.wg.Done()
	tips, unsubscribe := n.chain.SubscribeTip()
	defer unsubscribe()
	for {
		n.advanceClaims()
		select {
		case <-n.ctx.Done():
			return
		case <-tips:
		case <-n.claimKick:
		}
	}
}

func (n *Node) advanceClaims() {
	me := ledger.AddressFromPubKey(n.walletKey.PubKey())
	tip := n.chain.Tip()
	n.claims.mu.Lock()
	defer n.claims.mu.Unlock()
	changed := false
	kept := n.claims.pending[:0]
	for _, p := range n.claims.pending {
		if rec, err := n.chain.ResolveName(p.Name); err == nil {
			if rec.Owner != me {
				n.log.Warn("name claim lost: someone else owns the name", "name", p.Name)
			} else if p.Claim != "" {
				n.log.Info("name claimed", "name", p.Name, "cid", rec.CID, "height", rec.Height)
			}
			if rec.Owner != me || p.Claim != "" {
				changed = true
				continue
			}
		}
		if p.Claim == "" {
			salt, _ := hex.DecodeString(p.Salt)
			h, err := n.chain.NameClaimHeight(p.Name, salt, me)
			if err == nil && tip.Height+1 >= h {
				c, _ := cid.Decode(p.CID)
				tx, err := n.chain.NewAnchor(n.walletKey, ledger.Anchor{CID: c, Name: p.Name, Salt: salt}, 0)
				if err == nil {
					var id TxIDJSON
					if id, err = n.submitTx(tx); err == nil {
						p.Claim = id.TxID
						n.claims.submitted[p.Commit] = p.Claim
					}
				}
				if err != nil {
					n.log.Warn("submit name claim", "name", p.Name, "err", err)
				}
				changed = true
			}
		}
		kept = append(kept, p)
	}
	n.claims.pending = kept
	if changed {
		if err := n.claims.saveLocked(); err != nil {
			n.log.Warn("save pending name claims", "err", err)
		}
	}
}

// VerifyJSON is `myco verify CID --json`: the proof that the CID existed.
type VerifyJSON struct {
	CID           string `json:"cid"`
	Height        uint64 `json:"height"`
	Block         string `json:"block"`
	Time          string `json:"time"` // RFC 3339, UTC
	TimeMS        int64  `json:"time_ms"`
	Tx            string `json:"tx"`
	Confirmations uint64 `json:"confirmations"`
	Owner         string `json:"owner"`
}

// Verify returns the first anchor of a CID on the chain.
func (n *Node) Verify(root string) (VerifyJSON, error) {
	c, err := parseRoot(root)
	if err != nil {
		return VerifyJSON{}, err
	}
	p, err := n.chain.FirstAnchor(c)
	if errors.Is(err, ledger.ErrUnknownCID) {
		return VerifyJSON{}, &httpError{http.StatusNotFound, fmt.Errorf("%s was never published on this chain", c)}
	}
	if err != nil {
		return VerifyJSON{}, err
	}
	return VerifyJSON{
		CID:           c.String(),
		Height:        p.Height,
		Block:         p.Block.String(),
		Time:          time.UnixMilli(p.Time).UTC().Format(time.RFC3339Nano),
		TimeMS:        p.Time,
		Tx:            p.TxID.String(),
		Confirmations: p.Confirmations(n.chain.Tip()),
		Owner:         p.Owner.Encode(n.network.Params()),
	}, nil
}

// NameJSON is `myco resolve NAME --json`.
type NameJSON struct {
	Name   string `json:"name"`
	CID    string `json:"cid"`
	Owner  string `json:"owner"`
	Height uint64 `json:"height"`
}

// Resolve returns the CID a name points to.
func (n *Node) Resolve(name string) (NameJSON, error) {
	if err := ledger.CheckName(name); err != nil {
		return NameJSON{}, badRequest(err)
	}
	rec, err := n.chain.ResolveName(name)
	if errors.Is(err, ledger.ErrUnknownName) {
		return NameJSON{}, &httpError{http.StatusNotFound, fmt.Errorf("no one owns the name %q on this chain", name)}
	}
	if err != nil {
		return NameJSON{}, err
	}
	return NameJSON{Name: rec.Name, CID: rec.CID.String(), Owner: rec.Owner.Encode(n.network.Params()), Height: rec.Height}, nil
}

func (s *APIServer) publish(r *http.Request, req PublishRequest) (any, error) {
	return s.node.Publish(r.Context(), req)
}

func (s *APIServer) verify(r *http.Request) (any, error) {
	return s.node.Verify(r.URL.Query().Get("cid"))
}

func (s *APIServer) resolve(r *http.Request) (any, error) {
	return s.node.Resolve(r.URL.Query().Get("name"))
}
