// Package ledger owns myco's proof-of-work blockchain: transactions, blocks,
// consensus rules, chain selection by most cumulative work, account state,
// the anchor and name indexes, payment channels, the mempool, block
// templates, keys and addresses, and the Store interface the chain keeps
// itself in, with an in-memory implementation (MemStore).
//
// It is a deterministic state machine: it does no file or network I/O,
// reads no clock and starts no goroutine that outlives a call. Callers hand
// it blocks, transactions and the time (Chain.ProcessBlock(blk, now),
// Chain.AddTx, Chain.BlockTemplate(addr, now)) and a Store; it hands the
// Store one Batch per connected or disconnected block. What does I/O or
// runs on its own lives beside it:
//
//   - ledger/leveldbstore: the goleveldb Store and OpenChain, the chain on
//     disk;
//   - ledger/miner: the mining goroutines and midstate hashing;
//   - ledger/netsync: gossip and headers-first sync;
//   - node/keyfile: wallet key files;
//   - node: the HTTP API and the daemon that ties them together.
//
// Files: chain.go (Config, Chain, opening it), schema.go (store keys),
// blockindex.go (block nodes), chainview.go (main chain, best chain),
// process.go (ProcessBlock, connect, reorganise), orphans.go, queries.go,
// notify.go (tip subscriptions), headers.go (locators and header checks
// for sync), validate.go (the rules), state.go (the state overlay and undo
// records), names.go (anchors and names), channel.go and voucher.go
// (payment channels), mempool.go, template.go, sigverify.go (the
// signature cache and a block's parallel signature checks).
//
// Decisions:
//
//   - Encoding. Fixed-layout little-endian binary (see Tx and Header); a
//     decoder checks every length against the bytes left (and a block against
//     MaxBlockSize) before it allocates, and rejects trailing bytes, so the
//     encoding is canonical and an id (double SHA-256 of the bytes) is
//     unique. Hashes print as hex in byte order and are read big-endian for
//     proof of work.
//   - Header. 96 bytes with the nonce in the last 8 (NonceOffset), so the
//     first 64 bytes are one SHA-256 block that a miner hashes once
//     (ledger/miner's midstate). Timestamps are Unix milliseconds, because
//     dev blocks are 1 s apart. The nonce is 64 bits, so no extra-nonce is
//     needed.
//   - Keys and addresses. secp256k1 keys, BIP-340 Schnorr signatures over a
//     tagged hash ("myco/tx/v1") of every field but the signature; the
//     sender is its 32-byte x-only key. An address is the first 20 bytes of
//     SHA-256 of that key, bech32m-encoded with the network's prefix ("myco",
//     "mycod"). GenerateKey and NewNameSalt read crypto/rand, the only
//     outside input the package takes itself; key files are node/keyfile's.
//   - Accounts. Balance and nonce; a transaction's nonce must be exactly the
//     sender's next, which rules out replays; the chain id in the signed
//     bytes rules out cross-network replays. Empty accounts are deleted, so
//     two nodes with the same chain hold byte-identical state. The coinbase
//     nonce is the height, so coinbase ids never repeat; it is credited
//     after the block's other transactions, so a block cannot spend its own
//     reward. There is no coinbase maturity: after a reorg, mempool
//     transactions that no longer fit the state simply drop out.
//   - Anchors. An anchor (TxAnchor) records a CID, optionally under a
//     name; it moves no coins and pays a fee. Payload: CID length and
//     bytes, name length and bytes, then a 32-byte salt or nothing; only
//     the canonical form decodes. The first anchor of a CID on the main
//     chain is its proof of existence (Chain.FirstAnchor: height, block,
//     time, tx, owner): the content existed by that block's time. Later
//     anchors of the CID change nothing, within a block the earlier
//     position wins, and after a reorganisation the earliest anchor on the
//     new main chain is the proof (or there is none).
//   - Names. 3 to 63 lower-case letters, digits and '-', and never the
//     text of a CID, so `fetch NAME|CID` is never ambiguous. The first
//     valid claim on the main chain owns a name for good (no expiry, no
//     transfer yet); a later anchor of the name by the owner's key points
//     it to a new CID; an anchor of it by any other key is invalid
//     (ErrNameTaken), also when the two are in one block (the earlier
//     claims, the later is by another key). The mempool keeps at most one
//     sender's anchors per name (ErrMempoolNameConflict) and drops pending
//     claims once a block gives the name to someone else.
//   - Front-running and commit-then-reveal. With plain first-come claims,
//     a claim is public from the moment it is broadcast until a block
//     holds it: anyone who sees it in gossip or in a mempool (above all a
//     miner, who orders its own blocks) can send the same name with a
//     higher fee, or mine it themselves, and own the name first. So a
//     first claim takes two steps, as Namecoin's name_new and
//     name_firstupdate: a TxNameCommit carries NameCommitment(name, salt,
//     owner address), a tagged SHA-256 that reveals nothing about the
//     name; the claim is an anchor with the name and the salt, valid only
//     if that commitment is on the main chain at least NameCommitDepth
//     blocks (main 6, dev 2) below the claim's block
//     (ErrNameNotCommitted, ErrNameCommitTooNew). Someone who sees the
//     claim learns the name too late: their own commitment would need
//     NameCommitDepth blocks, while the claim needs one. They cannot reuse
//     the revealed salt either, because the commitment binds the owner's
//     address. What remains: a miner (or a majority) who withholds the
//     claim for NameCommitDepth blocks while getting their own commitment
//     in, which costs them those blocks' fees and is visible; and
//     squatting on names before anyone wants them, which no claim order
//     can prevent. Updates by the owner need no commitment. The salt is
//     the claimant's secret until the claim; losing it means committing
//     again.
//   - Anchor indexes. The name records (R name), first anchors (F CID) and
//     commitment heights (M commitment) are store entries changed through
//     the same overlay as accounts, so they are written in the block's
//     one atomic batch; the block's undo record holds each entry's prior
//     value (or absence), so disconnecting a block restores them exactly
//     and a crash at any write leaves them consistent with the tip.
//     Transactions are indexed by id on the main chain (FindTx).
//   - Payment channels. Unidirectional, as Filecoin's payment channels:
//     a payer locks a deposit for one payee until an expiry height
//     (TxChannelOpen: Recipient the payee, never zero nor the payer;
//     Amount the deposit; Payload the expiry, which must be above the
//     opening block's height, with no minimum life: how much life a
//     channel needs is the payee's policy). The channel's id is the
//     opening transaction's id, unique because the payer's nonce is. The
//     payer pays off-chain with Vouchers: a BIP-340 signature over a
//     tagged hash ("myco/voucher/v1") of the chain id, the channel id and
//     a cumulative amount, so a later voucher supersedes the earlier ones
//     and none is valid on another network or channel. Only the payee
//     closes (TxChannelClose: channel id and voucher), at any height while
//     the channel is open; it gets the voucher's amount (at most the
//     deposit) and the payer the rest. The chain does not know which
//     voucher is the highest: the payee chooses, and only the payee loses
//     by choosing a lower one. From the expiry height on, if no close came
//     first, the payer takes the whole deposit back (TxChannelRefund);
//     after expiry a close and a refund race and the first on the chain
//     wins, so a payee closes before expiry with a margin. A payer risks
//     what its vouchers promise and no more. TxChannelTopup adds deposit
//     and sets an expiry no earlier than the old one. A close or refund
//     pays out before its fee is charged, so a payee with no coins yet can
//     close. The record (C id: payer key, payee, deposit, expiry, opened,
//     state, settled height, amount paid; 93 bytes) and the address
//     indexes (P payer|id, Q payee|id) are index entries changed through
//     the view like the names, so the block's batch and undo record cover
//     them; a settled record stays, so a double close or a close after a
//     refund gets its own error, not "unknown channel". The rules are in
//     channel.go, each stated above its check; voucher signatures are
//     verified in applyTx, as they need the payer's key from the state,
//     through the signature cache (see below), so a close's voucher is
//     verified once on its way from the mempool into a block.
//     A payee checks each voucher it receives with Chain.CheckVoucher,
//     which applies a close's rules to it, so the swarm and the chain
//     cannot disagree on what a voucher is worth.
//     The mempool keeps one sender's pending closes, refunds and top-ups
//     per channel (ErrMempoolChannelConflict), as a block could hold a
//     close and a refund, or a close and a top-up, in one order only;
//     after a block or a reorganisation the ones that no longer fit drop
//     out like any other.
//   - Rules. validate.go holds them, one sentence above each check, each
//     rejection a *RuleError with its own ErrorCode. Difficulty is ASERT
//     (aserti3-2d's integer cubic approximation) anchored at genesis with no
//     offset: blocks on schedule keep the genesis target. Timestamps must be
//     above the median of the last 11 blocks and at most MaxFutureDrift
//     (main 5 min, dev 10 s) past the caller's clock.
//   - Chain selection. Most cumulative work, 2^256/(target+1) per block;
//     ties go to the block seen first (a sequence number persisted with the
//     index). Every block that passes its context-free and header checks is
//     stored, on any branch; state rules are checked when a branch would
//     become the main chain. A reorganisation validates the whole new branch
//     on an overlay of the state (rewound through undo records) before it
//     writes anything; if a block fails it and its descendants are marked
//     invalid and the next best branch is tried.
//   - Concurrency. Chain's methods are safe for concurrent use (one mutex).
//     The package starts no goroutine: a big block's signatures are
//     verified on several cores only through the runner its opener hands
//     in (Config.Parallel; leveldbstore.OpenChain passes a fork-join over
//     GOMAXPROCS goroutines from internal/forkjoin that all end before the
//     call returns), and one after another without one.
//   - Storage. One atomic batch per connected or disconnected block
//     (accounts, anchor indexes, undo record, height index, tx index, tip). A crash between
//     the batches of a reorganisation leaves a consistent chain on a branch
//     with less work; OpenChain notices and finishes the reorganisation.
//     Orphans (unknown parent) are kept in memory only, at most MaxOrphans,
//     oldest evicted first.
//   - Mempool. Per sender, a run of consecutive nonces from the committed
//     nonce, spending at most the committed balance (incoming pending
//     transfers are not counted). Same sender and nonce twice is a conflict
//     (no replace-by-fee yet). When full, the lowest fee rate among each
//     sender's last transaction is evicted if the newcomer pays more.
//     Templates take each sender's next transaction by highest fee rate.
//   - Signature cache. Schnorr verification is the costly part of
//     validation, and a transaction is checked when it enters the
//     mempool, each time the mempool is re-checked after a block, in each
//     block template and when its block connects; a close's voucher at
//     each of these too, as its payer's key comes from the state. So
//     successful BIP-340 verifications are cached (sigverify.go), as in
//     btcd and Bitcoin Core, keyed by SHA-256 of everything verified: the
//     signed message (a tagged hash), the x-only key and the signature. A
//     hit is thus the very same verification, and no cached entry can
//     pass another message, key or signature (short of a SHA-256
//     collision, which transaction ids already rule out); only successes
//     are kept. A key of a close's id and voucher would rest on the
//     state (the payer's key is the channel record's, not the
//     transaction's); this key rests on nothing. The mempool and templates fill the cache; a
//     connecting block answers from it and removes its entries (they are
//     spent) and caches nothing of its own. It holds Config.SigCacheSize
//     entries (default 100000, 32 bytes each), evicting an arbitrary one
//     when full, and is shared by the Parallel runner's goroutines.
//     Chain.CheckVoucher does not use it: a payee's incoming vouchers are
//     new and only the highest is ever closed. Chain.SigCacheStats
//     counts hits and verifications.
//   - Networks. main: 60 s blocks, 2 h ASERT half-life, genesis target about
//     2^20 hashes; dev: 1 s blocks, 20 s half-life, genesis target 4096
//     hashes. Both start with no coins (the genesis coinbase pays nothing).
package ledger
