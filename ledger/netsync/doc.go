// Package netsync puts the ledger on the network: it owns the GossipSub
// topics for blocks and transactions, the headers-first sync protocol
// /myco/chain/1.0.0, the pools of blocks that wait outside the chain
// (orphans and blocks from the future) and the banning of peers that send
// invalid data. It does not own the chain's rules, state or storage
// (package ledger) nor the host, the miner or the API (package node).
//
// Decisions:
//
//   - Gossip. Topics /myco/<network>/blocks/1 and /myco/<network>/txs/1.
//     Message ids are the SHA-256 of the data, so a block announced by two
//     nodes is one message. The topic validators run before a message is
//     forwarded: the size limit before decoding, then decoding, then the
//     chain itself (ledger.Chain.ProcessBlock checks proof of work, header
//     rules, signatures and, on the main chain, state; Chain.AddTx checks a
//     transaction's signature and state). Only valid data spreads. A block
//     whose parent is unknown is checked by the context-free rules and its
//     signatures, kept as an orphan, not forwarded (its difficulty cannot be
//     checked yet) and makes us sync with the sender. A transaction that
//     merely does not fit our state (already mined, nonce conflict, full
//     pool) is ignored, not rejected: the sender may be honest. One that our
//     state says can never be valid (its sender cannot pay, or its nonce
//     is more than MaxNonceAhead past the sender's next) is ignored too,
//     but scores its relay 2 points: honest relays check transactions
//     against their own state before forwarding them, so a stream of
//     these is a flood (banned after 50). A peer's share of the mempool
//     (transactions it relayed first) is capped at MaxPeerMempoolTxs;
//     past it, what it relays is ignored before any work is done.
//   - Penalties. A rejected message lowers the sender's GossipSub score
//     (invalid deliveries weigh -20 each, squared; below -80 a peer is
//     graylisted and ignored). The service also keeps its own misbehaviour
//     score per peer, fed by gossip and by the sync protocol (invalid block
//     50, invalid transaction 20, bad response 50) and decaying on ticks;
//     it is pubsub's application-specific score too, at half weight, so
//     pubsub's graylist (-80) never silences a peer before the ban (100)
//     disconnects it. At 100 the peer is
//     banned for BanDuration: disconnected, refused by the Blocklist (a
//     connection gater and pubsub blacklist on the injected clock) and
//     ignored by the protocol handler.
//   - Budgets. Every peer has token buckets for the chain protocol (Budget:
//     requests per second, headers per second, response bytes per second,
//     each with a burst), on the injected clock. A request is charged
//     before any work is done, its response before it is sent. Within the
//     budget a peer is answered at once; a little over it (its tokens are
//     back within MaxDelay) the answer waits; further over it the request
//     is refused (reset, and refunded) and scores OverBudgetScore, so a
//     flood is banned after about ten refusals. A response is bounded by
//     the protocol (2000 headers, or one block past 4 MiB), so what one
//     request of at least 39 bytes can make us send is a fixed multiple of
//     it, and the buckets bound the rate of those. The defaults let an
//     honest peer sync a long chain from genesis one request at a time
//     (20,000 headers at once, then 1000 a second) without ever waiting
//     more than 2 s.
//   - Gossip budget. What a peer relays on the topics is charged to its
//     GossipBudget (blocks and transactions, each a token bucket) in
//     pubsub's RPC inspector, before pubsub checks a signature or runs a
//     validator: some messages cost a validation and can only be
//     ignored, never scored (a transaction whose nonce is a little ahead
//     may be honest), so only a budget bounds them. A gossiped message
//     cannot wait without holding a validation slot every peer shares,
//     so a peer a little over its budget is shed (its messages dropped
//     unvalidated); more than MaxDelay of its rate in debt, refused, and
//     the RPC scores OverBudgetScore through the event loop (the
//     inspector runs on pubsub's loop, which a ban calls back into).
//   - Bans. A peer is banned once (under the service's lock) and the ban
//     is one Warn line with the peer, the reason and the duration; what is
//     still queued from a banned peer is dropped without scoring or
//     logging. Its connections are closed and the Blocklist, the host's
//     connection gater, refuses new ones once the peer's identity is known
//     (the handshake) until the ban ends. The IPs the peer was connected
//     from at the ban are marked too, by IP rather than IP:port (a dialer
//     without port reuse comes back from a fresh port each time), TCP and
//     QUIC sharing one bucket per IP: while the peer's ban lasts, and no
//     longer (the mark ends with the longest ban of a peer seen there), at
//     most 2 new inbound connections a second (burst 5) from such an IP
//     get to the handshake and the rest are dropped before it. An IP is
//     never refused outright: other peers behind it (a NAT, a loopback
//     testnet) still connect, a few a second, and are let in once their
//     handshake names them. So a banned peer reconnecting in a loop costs
//     us a few handshakes a second, not one per attempt. go-libp2p gates a
//     QUIC connection only after its TLS handshake, so the throttle also
//     sits in the host's resource manager (Blocklist.ResourceManager),
//     which QUIC consults on the first packet: a throttled QUIC attempt
//     costs us one refusal packet, no handshake. A dropped attempt still
//     costs something: for TCP the kernel's accept and a close, and
//     go-libp2p's making multiaddrs of the socket's addresses; for QUIC
//     reading the packet and sending a CONNECTION_REFUSED (its Initial
//     keys derived for it). Together about 0.4 ms of CPU for the 1 ms the
//     attacker spends on a TCP and a QUIC dial (loopback, cmd/myco
//     TestAttackSyncFloodBanned), so a peer redialling as fast as its core
//     lets it costs us about 30% of one; dropping it for nothing is a
//     firewall's job. Blocklist.List and Service.Misbehaviour expose bans
//     and scores to the API and metrics.
//   - Sync. One request per stream, a uint32 length-prefixed frame each
//     way, sizes checked before allocating, deadlines on every stream,
//     Reset on every error. A round sends our block locator, receives up to
//     2000 headers per response (continuing after the last one, up to
//     MaxRoundHeaders held in memory, never stored), and validates them
//     with Chain.ValidateHeaders against the real header rules (proof of
//     work, height, ASERT bits, median time, drift) before any body is
//     fetched. A header chain with no more cumulative work than our tip is
//     not downloaded, so header spam costs the spammer real work and us
//     only bounded memory for one round. Bodies are then fetched in
//     batches from the header source and up to seven other peers in
//     parallel (btcd fetches from one peer only), each body checked against
//     its header's hash, and connected strictly in order; batches are
//     handed out lowest first within a window ahead of the next one to
//     connect, and a helper that lacks a batch or fails drops out and its
//     batch goes to another peer. When the source of the headers fails
//     its batch it is scored too: it announced the chain, so withholding
//     a body costs it 50 points, a request it lets time out
//     (RequestTimeout) 25, a body that does not match its header 50; its
//     batch goes to the other peers, so one liar costs at most one
//     timeout. The round fails only when no peer is left to fetch from. A node syncs on Start, on every new connection, whenever a
//     gossiped block's parent is unknown, and on Sync.
//   - Waiting blocks. Orphans are kept here, not in the ledger's pool, so
//     they are bounded in count (MaxOrphans) and age (OrphanTTL, on the
//     injected clock); when their parent is stored they are connected and
//     forwarded. A block rejected as too far in the future is not
//     penalised but kept (MaxFutureBlocks, at most FutureHorizon ahead)
//     and reconsidered on each tick once its time is within the drift.
//   - Reorganisations. Transactions of disconnected blocks that the ledger
//     put back in the mempool are announced again, so peers that
//     reorganise with us can mine them.
//   - Time. The ledger's now, orphan ages, bans and future blocks all use
//     Config.Now, and housekeeping runs on Config.Ticks; only stream
//     deadlines (the I/O edge) use the wall clock.
package netsync
