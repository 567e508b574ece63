package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/myco-p2p/myco/ledger"
)

// maxMinerThreads bounds `mine start --threads`.
var maxMinerThreads = 4 * runtime.NumCPU()

// ChainStatus is `myco chain status --json`.
type ChainStatus struct {
	Height   uint64 `json:"height"`
	Tip      string `json:"tip"`
	Work     string `json:"work"` // decimal: it outgrows JSON numbers
	Bits     string `json:"bits"` // compact target, hex
	NextBits string `json:"next_bits"`
	Time     int64  `json:"time"` // Unix milliseconds
	Network  string `json:"network"`
	Mempool  int    `json:"mempool"`
	Orphans  int    `json:"orphans"`
	Peers    int    `json:"peers"` // peers on the blocks topic
	Syncing  bool   `json:"syncing"`
}

// BalanceJSON is `myco wallet balance --json`, in base units: the
// confirmed balance and nonce, and what they become once the mempool's
// transactions are mined.
type BalanceJSON struct {
	Address        string `json:"address"`
	Balance        uint64 `json:"balance"`
	Nonce          uint64 `json:"nonce"`
	PendingBalance uint64 `json:"pending_balance"`
	PendingNonce   uint64 `json:"pending_nonce"`
	// LockedInChannels is the deposits of the address's open payment
	// channels as payer: its coins, out of Balance until a close or
	// refund pays them back.
	LockedInChannels uint64 `json:"locked_in_channels"`
}

// SendRequest is the body of POST /api/v0/send; amounts in base units.
type SendRequest struct {
	To     string `json:"to"`
	Amount string `json:"amount"`
	Fee    string `json:"fee,omitempty"`
}

// TxIDJSON answers a send or publish.
type TxIDJSON struct {
	TxID string `json:"txid"`
}

// MineStatus is `myco mine status --json`.
type MineStatus struct {
	Mining   bool    `json:"mining"`
	HashRate float64 `json:"hashrate"`
	Threads  int     `json:"threads"`
	Hashes   uint64  `json:"hashes"`
	Blocks   uint64  `json:"blocks"`
}

// MineRequest is the body of POST /api/v0/mine/start.
type MineRequest struct {
	Threads int `json:"threads"`
}

// BlockJSON is `myco chain block --json`.
type BlockJSON struct {
	Hash          string   `json:"hash"`
	Height        uint64   `json:"height"`
	Version       uint32   `json:"version"`
	Prev          string   `json:"prev"`
	MerkleRoot    string   `json:"merkle_root"`
	Time          int64    `json:"time"`
	Bits          string   `json:"bits"`
	Nonce         uint64   `json:"nonce"`
	MainChain     bool     `json:"main_chain"`
	Confirmations uint64   `json:"confirmations"`
	Work          string   `json:"work"`
	Size          int      `json:"size"`
	Txs           []TxJSON `json:"txs"`
}

// TxJSON is one transaction of a block.
type TxJSON struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	From      string `json:"from,omitempty"`
	Nonce     uint64 `json:"nonce"`
	To        string `json:"to,omitempty"`
	Amount    uint64 `json:"amount"`
	Fee       uint64 `json:"fee"`
	Payload   string `json:"payload,omitempty"` // hex
	Signature string `json:"signature,omitempty"`
}

func bitsHex(b uint32) string { return fmt.Sprintf("%08x", b) }

// ChainStatus reports the tip of the node's chain.
func (n *Node) ChainStatus() ChainStatus {
	tip := n.chain.Tip()
	st := n.netsync.Stats()
	return ChainStatus{
		Height:   tip.Height,
		Tip:      tip.Hash.String(),
		Work:     tip.Work.String(),
		Bits:     bitsHex(tip.Bits),
		NextBits: bitsHex(tip.NextBits),
		Time:     tip.Time,
		Network:  string(n.network),
		Mempool:  n.chain.MempoolStats().Txs,
		Orphans:  n.chain.OrphanCount(),
		Peers:    st.GossipPeers,
		Syncing:  st.Syncing,
	}
}

// Block returns a block by height (decimal) or hash (hex).
func (n *Node) Block(id string) (BlockJSON, error) {
	var info ledger.BlockInfo
	var err error
	if h, perr := strconv.ParseUint(id, 10, 64); perr == nil && len(id) < 20 {
		info, err = n.chain.BlockByHeight(h)
	} else {
		hash, herr := ledger.ParseHash(id)
		if herr != nil {
			return BlockJSON{}, badRequest(fmt.Errorf("block %q: want a height or a 64-digit hex hash: %w", id, herr))
		}
		info, err = n.chain.BlockByHash(hash)
	}
	if errors.Is(err, ledger.ErrUnknownBlock) {
		return BlockJSON{}, &httpError{http.StatusNotFound, err}
	}
	if err != nil {
		return BlockJSON{}, err
	}
	return n.blockJSON(info), nil
}

func (n *Node) blockJSON(info ledger.BlockInfo) BlockJSON {
	b := info.Block
	p := n.network.Params()
	out := BlockJSON{
		Hash:          info.Hash.String(),
		Height:        b.Header.Height,
		Version:       b.Header.Version,
		Prev:          b.Header.PrevHash.String(),
		MerkleRoot:    b.Header.MerkleRoot.String(),
		Time:          b.Header.Time,
		Bits:          bitsHex(b.Header.Bits),
		Nonce:         b.Header.Nonce,
		MainChain:     info.MainChain,
		Confirmations: info.Confirmations,
		Work:          info.Work.String(),
		Size:          b.Size(),
		Txs:           make([]TxJSON, 0, len(b.Txs)),
	}
	for _, tx := range b.Txs {
		t := TxJSON{
			ID:     tx.ID().String(),
			Kind:   tx.Kind.String(),
			Nonce:  tx.Nonce,
			To:     tx.Recipient.Encode(p),
			Amount: tx.Amount,
			Fee:    tx.Fee,
		}
		if tx.Kind != ledger.TxCoinbase {
			t.From = tx.SenderAddress().Encode(p)
			t.Signature = hex.EncodeToString(tx.Sig[:])
		}
		if tx.Kind == ledger.TxAnchor {
			t.To = ""
		}
		if len(tx.Payload) > 0 {
			t.Payload = hex.EncodeToString(tx.Payload)
		}
		out.Txs = append(out.Txs, t)
	}
	return out
}

// Balance reports an address's confirmed balance and nonce; "" means the
// node's own wallet.
func (n *Node) Balance(addr string) (BalanceJSON, error) {
	if addr == "" {
		addr = n.wallet
	}
	a, err := ledger.DecodeAddress(addr, n.network.Params())
	if err != nil {
		return BalanceJSON{}, badRequest(err)
	}
	acct, err := n.chain.Account(a)
	if err != nil {
		return BalanceJSON{}, err
	}
	locked, err := n.chain.LockedInChannels(a)
	if err != nil {
		return BalanceJSON{}, err
	}
	out := BalanceJSON{Address: addr, Balance: acct.Balance, Nonce: acct.Nonce, PendingBalance: acct.Balance, PendingNonce: acct.Nonce, LockedInChannels: locked}
	// The mempool only holds transactions its sender can pay for, in nonce
	// order, so applying them never goes below zero.
	for _, tx := range n.chain.MempoolTxs() {
		if tx.Kind != ledger.TxCoinbase && tx.SenderAddress() == a {
			out.PendingBalance -= min(out.PendingBalance, tx.Amount+tx.Fee)
			out.PendingNonce = max(out.PendingNonce, tx.Nonce+1)
		}
		if tx.Kind == ledger.TxTransfer && tx.Recipient == a {
			out.PendingBalance += tx.Amount
		}
	}
	return out, nil
}

// Send signs a transfer from the node's wallet and submits it.
func (n *Node) Send(req SendRequest) (TxIDJSON, error) {
	to, err := ledger.DecodeAddress(req.To, n.network.Params())
	if err != nil {
		return TxIDJSON{}, badRequest(err)
	}
	amount, err := ledger.ParseAmount(req.Amount)
	if err != nil {
		return TxIDJSON{}, badRequest(err)
	}
	fee := uint64(0)
	if req.Fee != "" {
		if fee, err = ledger.ParseAmount(req.Fee); err != nil {
			return TxIDJSON{}, badRequest(fmt.Errorf("fee: %w", err))
		}
	}
	tx, err := n.chain.NewTransfer(n.walletKey, to, amount, fee, nil)
	if err != nil {
		return TxIDJSON{}, ledgerError(err)
	}
	return n.submitTx(tx)
}

// submitTx adds a signed transaction to the mempool and gossips it.
func (n *Node) submitTx(tx *ledger.Tx) (TxIDJSON, error) {
	id, err := n.chain.AddTx(tx)
	if err != nil {
		return TxIDJSON{}, ledgerError(err)
	}
	if err := n.netsync.BroadcastTx(tx); err != nil {
		// It is in our mempool and will be mined here or re-announced
		// with the block; say so, but the send succeeded.
		n.log.Warn("broadcast transaction", "tx", id, "err", err)
	}
	return TxIDJSON{TxID: id.String()}, nil
}

// ledgerError gives a rule violation (a transaction the ledger refuses) a
// 400 status; anything else stays a server error.
func ledgerError(err error) error {
	var re *ledger.RuleError
	if errors.As(err, &re) {
		switch re.Code {
		case ledger.ErrInsufficientBalance:
			err = fmt.Errorf("%w; 'myco wallet balance' shows what this wallet holds (coins come from mining or from other wallets)", err)
		case ledger.ErrFeeTooLow:
			err = fmt.Errorf("%w; raise it with --fee", err)
		case ledger.ErrNonceGap, ledger.ErrMempoolConflict:
			err = fmt.Errorf("%w; wait for this wallet's pending transactions to be mined and try again", err)
		}
		return badRequest(err)
	}
	return err
}

// StartMining starts (or restarts with a new thread count) the miner.
func (n *Node) StartMining(threads int) error {
	if threads < 1 || threads > maxMinerThreads {
		return badRequest(fmt.Errorf("threads %d: want 1 to %d", threads, maxMinerThreads))
	}
	return n.miner.Start(threads)
}

// StopMining stops the miner.
func (n *Node) StopMining() { n.miner.Stop() }

// MiningStatus reports the miner.
func (n *Node) MiningStatus() MineStatus {
	s := n.miner.Status()
	return MineStatus{Mining: s.Mining, HashRate: s.HashRate, Threads: s.Threads, Hashes: s.Hashes, Blocks: s.Blocks}
}

// onMined is the miner's hook for every block it finds.
func (n *Node) onMined(b *ledger.Block, res ledger.ProcessResult, err error) {
	if err != nil {
		n.log.Warn("mined block refused", "height", b.Header.Height, "err", err)
		return
	}
	n.log.Info("mined block", "height", b.Header.Height, "hash", res.Hash, "tip_changed", res.TipChanged)
	if res.Status == ledger.StatusMainChain {
		if err := n.netsync.BroadcastBlock(b); err != nil {
			n.log.Warn("broadcast block", "hash", res.Hash, "err", err)
		}
	}
}

// maxWait bounds how long one chain wait may block.
const maxWait = 30 * time.Minute

// WaitHeight blocks until the main chain reaches height, ctx ends or the
// node closes, and returns the chain status then.
func (n *Node) WaitHeight(ctx context.Context, height uint64) (ChainStatus, error) {
	tips, unsubscribe := n.chain.SubscribeTip()
	defer unsubscribe()
	for n.chain.Tip().Height < height {
		select {
		case <-tips:
		case <-ctx.Done():
			return n.ChainStatus(), &httpError{http.StatusRequestTimeout,
				fmt.Errorf("chain wait: height %d not reached (tip at %d): %w", height, n.chain.Tip().Height, ctx.Err())}
		case <-n.ctx.Done():
			return n.ChainStatus(), errors.New("chain wait: the node is shutting down")
		}
	}
	return n.ChainStatus(), nil
}

// chainWait answers ?height=H[&timeout=D] once the main chain reaches H.
func (s *APIServer) chainWait(r *http.Request) (any, error) {
	q := r.URL.Query()
	h, err := strconv.ParseUint(q.Get("height"), 10, 64)
	if err != nil {
		return nil, badRequest(fmt.Errorf("chain wait: height %q: want a whole number", q.Get("height")))
	}
	timeout := maxWait
	if v := q.Get("timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > maxWait {
			return nil, badRequest(fmt.Errorf("chain wait: timeout %q: want a duration up to %v", v, maxWait))
		}
		timeout = d
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	return s.node.WaitHeight(ctx, h)
}

func (s *APIServer) chainStatus(*http.Request) (any, error) { return s.node.ChainStatus(), nil }

func (s *APIServer) block(r *http.Request) (any, error) {
	return s.node.Block(r.URL.Query().Get("id"))
}

func (s *APIServer) balance(r *http.Request) (any, error) {
	return s.node.Balance(r.URL.Query().Get("address"))
}

func (s *APIServer) startMining(_ *http.Request, req MineRequest) (any, error) {
	if err := s.node.StartMining(req.Threads); err != nil {
		return nil, err
	}
	return s.node.MiningStatus(), nil
}

func (s *APIServer) stopMining(*http.Request) (any, error) {
	s.node.StopMining()
	return s.node.MiningStatus(), nil
}

func (s *APIServer) miningStatus(*http.Request) (any, error) { return s.node.MiningStatus(), nil }
