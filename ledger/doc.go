// Package ledger owns myco's proof-of-work blockchain: transactions, blocks,
// consensus rules, chain selection by most cumulative work, account state,
// the mempool, the miner, the leveldb store and wallet keys.
//
// Its core is a deterministic state machine: it does no network I/O and
// reads no clock; callers hand it blocks, transactions and the time.
package ledger
