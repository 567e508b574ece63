package netsync

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/myco-p2p/myco/ledger"
)

// Peer score thresholds. A peer below GossipThreshold gets no gossip from
// us, below PublishThreshold none of our own messages, and below
// GraylistThreshold everything it sends is ignored.
const (
	gossipThreshold   = -10
	publishThreshold  = -50
	graylistThreshold = -80
)

// scoreParams returns the GossipSub peer-scoring parameters. Invalid
// message deliveries weigh heavily (the counter is squared: two invalid
// blocks take a peer to the graylist); delivering first counts a little in
// a peer's favour; mesh delivery rates are not scored, because blocks are
// rare and a quiet peer is not at fault. The application-specific score is
// the negative of the service's own misbehaviour count, which also covers
// the sync protocol, at half weight. IP colocation is not scored: a loopback testnet puts
// every node on one address.
func (s *Service) scoreParams() (*pubsub.PeerScoreParams, *pubsub.PeerScoreThresholds) {
	topic := func(weight float64) *pubsub.TopicScoreParams {
		return &pubsub.TopicScoreParams{
			TopicWeight:                    weight,
			TimeInMeshWeight:               0.01,
			TimeInMeshQuantum:              time.Second,
			TimeInMeshCap:                  100,
			FirstMessageDeliveriesWeight:   1,
			FirstMessageDeliveriesDecay:    pubsub.ScoreParameterDecay(time.Hour),
			FirstMessageDeliveriesCap:      10,
			InvalidMessageDeliveriesWeight: -20,
			InvalidMessageDeliveriesDecay:  pubsub.ScoreParameterDecay(time.Hour),
		}
	}
	params := &pubsub.PeerScoreParams{
		Topics: map[string]*pubsub.TopicScoreParams{
			s.blocksTopicName: topic(1),
			s.txsTopicName:    topic(0.5),
		},
		TopicScoreCap:    20,
		AppSpecificScore: func(p peer.ID) float64 { return -s.misbehaviour(p) },
		// Half weight: a peer reaches the graylist (-80) only past a
		// misbehaviour of 160, so pubsub never silences a peer before the
		// service's ban (100) disconnects it. A peer scored in small steps
		// (unfunded transactions) would otherwise be graylisted at 80 and
		// stay connected, costing us its RPCs.
		AppSpecificWeight:         0.5,
		BehaviourPenaltyWeight:    -1,
		BehaviourPenaltyThreshold: 6,
		BehaviourPenaltyDecay:     pubsub.ScoreParameterDecay(10 * time.Minute),
		DecayInterval:             time.Second,
		DecayToZero:               0.01,
		RetainScore:               s.cfg.BanDuration,
	}
	thresholds := &pubsub.PeerScoreThresholds{
		GossipThreshold:             gossipThreshold,
		PublishThreshold:            publishThreshold,
		GraylistThreshold:           graylistThreshold,
		AcceptPXThreshold:           20,
		OpportunisticGraftThreshold: 2,
	}
	return params, thresholds
}

// contentID makes a message's id the hash of its data, so a block or
// transaction published by two nodes is one message.
func contentID(m *pb.Message) string {
	h := sha256.Sum256(m.Data)
	return string(h[:])
}

// startGossip creates the GossipSub router and joins both topics with
// their validators. Called with s.mu held.
func (s *Service) startGossip(ctx context.Context) error {
	params, thresholds := s.scoreParams()
	ps, err := pubsub.NewGossipSub(ctx, s.h,
		pubsub.WithPeerScore(params, thresholds),
		pubsub.WithPeerScoreInspect(pubsub.PeerScoreInspectFn(func(m map[peer.ID]float64) {
			s.peerScores.Store(&m)
		}), time.Second),
		// Our own blocks and transactions go to every topic peer at once,
		// not only to the mesh: a block mined here reaches the neighbours
		// in one hop even before the mesh has formed (v0.17 defaults to off).
		pubsub.WithFloodPublish(true),
		pubsub.WithBlacklist(s.bl),
		pubsub.WithRawTracer(s.mesh),
		pubsub.WithMessageIdFn(contentID),
		pubsub.WithMaxMessageSize(s.p.MaxBlockSize+64<<10),
		// Each peer's gossip budget is charged before pubsub does any
		// work for what it relays (signature checks, validation).
		pubsub.WithAppSpecificRpcInspector(s.inspectRPC),
		// pubsub warns about every message when the host has no connection
		// manager with decaying tags (mocknet); only its errors go to our log.
		pubsub.WithLogger(slog.New(minLevel{s.log.Handler(), slog.LevelError}).With("subsystem", "pubsub")),
	)
	if err != nil {
		return fmt.Errorf("gossipsub: %w", err)
	}
	if err := ps.RegisterTopicValidator(s.blocksTopicName, pubsub.ValidatorEx(s.validateBlockMsg)); err != nil {
		return fmt.Errorf("block validator: %w", err)
	}
	if err := ps.RegisterTopicValidator(s.txsTopicName, pubsub.ValidatorEx(s.validateTxMsg)); err != nil {
		return fmt.Errorf("transaction validator: %w", err)
	}
	if h := s.cfg.beforeJoin; h != nil {
		h(s)
	}
	blocks, err := ps.Join(s.blocksTopicName)
	if err != nil {
		return fmt.Errorf("join %s: %w", s.blocksTopicName, err)
	}
	txs, err := ps.Join(s.txsTopicName)
	if err != nil {
		return fmt.Errorf("join %s: %w", s.txsTopicName, err)
	}
	for _, t := range []*pubsub.Topic{blocks, txs} {
		sub, err := t.Subscribe()
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", t, err)
		}
		s.subs = append(s.subs, sub)
	}
	s.ps, s.blocks, s.txs = ps, blocks, txs
	return nil
}

// inspectRPC charges the blocks and transactions in an RPC to the gossip
// budget of the peer that sent it, before pubsub checks or validates
// them, and takes out those over the budget (see GossipBudget). It runs
// on pubsub's event loop, so a score it gives goes to the service's
// event loop (penalize) rather than into pubsub again. Pubsub calls it for
// RPCs read from other peers' streams only: what we publish never passes
// through it.
func (s *Service) inspectRPC(from peer.ID, rpc *pubsub.RPC) error {
	msgs := rpc.GetPublish()
	if len(msgs) == 0 {
		return nil
	}
	now := s.now()
	kept := msgs[:0]
	refused := false
	for _, m := range msgs {
		var block bool
		switch m.GetTopic() {
		case s.blocksTopicName:
			block = true
		case s.txsTopicName:
		default:
			kept = append(kept, m) // not ours: the topic is not joined
			continue
		}
		switch s.gossip.take(from, now, block) {
		case serveNow:
			s.gossipChecked.Add(1)
			kept = append(kept, m)
		case serveLater:
			s.gossipShed.Add(1)
		case refuse:
			s.gossipRefused.Add(1)
			refused = true
		}
	}
	clear(msgs[len(kept):])
	rpc.Publish = kept
	if refused {
		s.penalize(from, s.cfg.Budget.OverBudgetScore, "over its gossip budget")
	}
	return nil
}

// validateBlockMsg is the blocks topic's validator: it runs before a
// message is forwarded. The size is checked before decoding; a block whose
// parent is known goes through the chain (proof of work, header rules,
// signatures and, on the main chain, state), one whose parent is unknown
// through the context-free rules and its signatures, and waits as an
// orphan while the sender is asked for the chain. Invalid data is
// rejected, which lowers the sender's GossipSub score, and counts towards
// its ban.
func (s *Service) validateBlockMsg(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	// A block message is at most MaxBlockSize bytes.
	if len(msg.Data) > s.p.MaxBlockSize {
		s.misbehave(from, scoreInvalidBlock, "oversized block message")
		return pubsub.ValidationReject
	}
	blk, err := ledger.DecodeBlock(msg.Data, s.p.MaxBlockSize)
	if err != nil {
		s.misbehave(from, scoreInvalidBlock, "undecodable block: "+err.Error())
		return pubsub.ValidationReject
	}
	if from == s.h.ID() && s.chain.HasBlock(blk.Hash()) {
		return pubsub.ValidationAccept // our own block (the miner's), already processed
	}
	return s.acceptBlock(blk, from)
}

// acceptBlock hands a block from a peer (or from the future pool) to the
// chain and says what gossip should do with it.
func (s *Service) acceptBlock(blk *ledger.Block, from peer.ID) pubsub.ValidationResult {
	hash := blk.Hash()
	if s.chain.HasBlock(hash) {
		return pubsub.ValidationIgnore
	}
	if !s.chain.HasBlock(blk.Header.PrevHash) {
		return s.holdOrphan(blk, hash, from)
	}
	_, err := s.process(blk, from)
	var re *ledger.RuleError
	switch {
	case err == nil:
		return pubsub.ValidationAccept
	case errors.As(err, &re) && re.Code == ledger.ErrTimeTooNew:
		s.holdFuture(blk, hash, from)
		return pubsub.ValidationIgnore
	case errors.As(err, &re):
		s.misbehave(from, scoreInvalidBlock, "invalid block: "+err.Error())
		return pubsub.ValidationReject
	default:
		s.log.Error("process block", "hash", hash, "err", err)
		return pubsub.ValidationIgnore
	}
}

// holdOrphan checks a block whose parent is unknown as far as it can
// without the parent, keeps it and asks the sender for the chain. It is
// not forwarded: its difficulty cannot be checked yet.
func (s *Service) holdOrphan(blk *ledger.Block, hash ledger.Hash, from peer.ID) pubsub.ValidationResult {
	if err := ledger.CheckBlockSanity(blk, s.p); err != nil {
		s.misbehave(from, scoreInvalidBlock, "invalid orphan: "+err.Error())
		return pubsub.ValidationReject
	}
	for _, tx := range blk.Txs[1:] {
		if err := tx.VerifySignature(); err != nil {
			s.misbehave(from, scoreInvalidBlock, "orphan with a bad signature: "+err.Error())
			return pubsub.ValidationReject
		}
	}
	s.mu.Lock()
	// Checked again under the lock that adoption takes, so a parent
	// connected meanwhile cannot miss this child.
	if s.chain.HasBlock(blk.Header.PrevHash) {
		s.mu.Unlock()
		return s.acceptBlock(blk, from)
	}
	s.orphans.add(&heldBlock{blk: blk, hash: hash, from: from, at: s.now()})
	s.mu.Unlock()
	s.log.Debug("orphan block", "hash", hash, "height", blk.Header.Height, "from", from)
	if from != s.h.ID() {
		s.requestSync(from)
	}
	return pubsub.ValidationIgnore
}

func (s *Service) holdFuture(blk *ledger.Block, hash ledger.Hash, from peer.ID) {
	s.mu.Lock()
	kept := s.future.add(&heldBlock{blk: blk, hash: hash, from: from, at: s.now()}, s.now())
	s.mu.Unlock()
	s.log.Debug("block from the future", "hash", hash, "time", blk.Header.Time, "kept", kept)
}

// process hands a block whose parent is known to the chain, then adopts
// the orphans waiting for it (and theirs) and re-announces the
// transactions a reorganisation put back into the mempool.
func (s *Service) process(blk *ledger.Block, from peer.ID) (ledger.ProcessResult, error) {
	res, err := s.store(blk, from)
	if err != nil {
		return res, err
	}
	if res.Status != ledger.StatusMainChain && res.Status != ledger.StatusSideChain {
		return res, nil
	}
	s.afterStored(res)
	queue := []ledger.Hash{res.Hash}
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		s.mu.Lock()
		kids := s.orphans.takeChildren(parent)
		s.mu.Unlock()
		for _, k := range kids {
			r, err := s.store(k.blk, k.from)
			var re *ledger.RuleError
			switch {
			case err == nil && (r.Status == ledger.StatusMainChain || r.Status == ledger.StatusSideChain):
				s.afterStored(r)
				s.queueAnnounce(s.blocks, k.blk.Encode())
				queue = append(queue, r.Hash)
			case errors.As(err, &re) && re.Code == ledger.ErrTimeTooNew:
				s.holdFuture(k.blk, k.hash, k.from)
			case errors.As(err, &re):
				s.misbehave(k.from, scoreInvalidBlock, "invalid orphan: "+err.Error())
			case err != nil:
				s.log.Error("process orphan", "hash", k.hash, "err", err)
			}
		}
	}
	return res, nil
}

// store hands blk to the chain and counts it in BlocksReceived if a peer
// sent it and the chain stored it. The chain shows the block (its tip
// moves) before ProcessBlock returns, so recvMu is held shared from the
// call until the count: Stats takes it exclusively, and a caller that saw
// the block on the chain then sees it counted.
func (s *Service) store(blk *ledger.Block, from peer.ID) (ledger.ProcessResult, error) {
	s.recvMu.RLock()
	defer s.recvMu.RUnlock()
	res, err := s.chain.ProcessBlock(blk, s.now())
	stored := res.Status == ledger.StatusMainChain || res.Status == ledger.StatusSideChain
	if err == nil && stored && from != s.h.ID() {
		s.blocksRecv.Add(1)
	}
	return res, err
}

// afterStored re-announces the transactions of disconnected blocks that
// are back in the mempool, so the peers that reorganise with us mine them.
func (s *Service) afterStored(res ledger.ProcessResult) {
	for _, h := range res.Disconnected {
		info, err := s.chain.BlockByHash(h)
		if err != nil {
			continue
		}
		for _, tx := range info.Block.Txs[1:] {
			if s.chain.HasTx(tx.ID()) {
				s.queueAnnounce(s.txs, tx.Encode())
			}
		}
	}
}

// statelessTxCodes are the transaction rules a transaction breaks whatever
// the state: a peer that relays such a transaction did not check it.
var statelessTxCodes = map[ledger.ErrorCode]bool{
	ledger.ErrMalformed:         true,
	ledger.ErrWrongChainID:      true,
	ledger.ErrUnknownTxKind:     true,
	ledger.ErrPayloadTooBig:     true,
	ledger.ErrBadCoinbase:       true,
	ledger.ErrBadPubKey:         true,
	ledger.ErrBadSignature:      true,
	ledger.ErrZeroAmount:        true,
	ledger.ErrBadRecipient:      true,
	ledger.ErrBadAnchor:         true,
	ledger.ErrCoinbaseInMempool: true,
	// A channel transaction's layout and its voucher's channel and network.
	ledger.ErrBadChannelTx:        true,
	ledger.ErrVoucherWrongChannel: true,
	ledger.ErrVoucherWrongChain:   true,
}

// validateTxMsg is the transactions topic's validator. The size is checked
// before decoding; the mempool then checks the signature and the state.
// A transaction that is invalid whatever the state is rejected (and
// penalised); one that does not fit this node's state or mempool (already
// mined, a nonce conflict, a full pool) is ignored: its sender may be
// honest and merely behind or ahead of us.
func (s *Service) validateTxMsg(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	// A transaction message is at most one transaction with the largest payload.
	if len(msg.Data) > ledger.TxFixedSize+s.p.MaxPayload {
		s.misbehave(from, scoreInvalidTx, "oversized transaction message")
		return pubsub.ValidationReject
	}
	tx, err := ledger.DecodeTx(msg.Data)
	if err != nil {
		s.misbehave(from, scoreInvalidTx, "undecodable transaction: "+err.Error())
		return pubsub.ValidationReject
	}
	local := from == s.h.ID()
	if local && s.chain.HasTx(tx.ID()) {
		return pubsub.ValidationAccept
	}
	// A peer's share of the mempool is bounded: past it, what the peer
	// relays is ignored before any work is done for it.
	if !local && !s.shares.room(from, s.chain.HasTx) {
		return pubsub.ValidationIgnore
	}
	// Counted under recvMu like a block (see store): the mempool shows the
	// transaction before AddTx returns.
	s.recvMu.RLock()
	_, err = s.chain.AddTx(tx)
	if err == nil && !local {
		s.txsRecv.Add(1)
	}
	s.recvMu.RUnlock()
	var re *ledger.RuleError
	switch {
	case err == nil:
		if !local {
			s.shares.add(from, tx.ID())
			if s.cfg.OnTx != nil {
				s.cfg.OnTx(tx, from)
			}
		}
		return pubsub.ValidationAccept
	case errors.As(err, &re) && statelessTxCodes[re.Code]:
		s.misbehave(from, scoreInvalidTx, "invalid transaction: "+err.Error())
		return pubsub.ValidationReject
	case errors.As(err, &re) && re.Code == ledger.ErrInsufficientBalance:
		// Our state says it can never be valid: the sender is unfunded.
		// An honest relay checked it against its own state, so the two
		// states differ (we may be behind): a few points, not a
		// rejection, and the flood that costs us a core is banned.
		s.misbehave(from, scoreUnfundedTx, "relayed a transaction its sender cannot pay for")
		return pubsub.ValidationIgnore
	case errors.As(err, &re) && re.Code == ledger.ErrNonceGap && s.nonceFarAhead(tx):
		s.misbehave(from, scoreUnfundedTx, "relayed a transaction with a nonce far ahead")
		return pubsub.ValidationIgnore
	default:
		return pubsub.ValidationIgnore
	}
}

// nonceFarAhead says whether tx's nonce is more than MaxNonceAhead past
// its sender's next one (pending transactions included).
func (s *Service) nonceFarAhead(tx *ledger.Tx) bool {
	next, err := s.chain.NextNonce(tx.SenderAddress())
	return err == nil && tx.Nonce > next+uint64(s.cfg.MaxNonceAhead)
}

// minLevel passes on only records at or above min.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(a), h.min}
}
func (h minLevel) WithGroup(g string) slog.Handler { return minLevel{h.Handler.WithGroup(g), h.min} }
