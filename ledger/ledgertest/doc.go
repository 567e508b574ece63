// Package ledgertest generates ledger chains with expected outcomes, in the
// manner of btcd's fullblocktests: a Generator builds real blocks (signed
// transactions, proof of work) on named parents, keeps an independent model
// of the account state, the name and anchor indexes and the payment
// channels after each block, and ConsensusTests scripts a long
// sequence of valid and invalid blocks and transactions, each with the
// outcome and error code a correct chain must give. Tests in package ledger
// and ledger/leveldbstore replay the script against a real Chain (Replay
// feeds it step by step); BuildBranches makes two competing branches for
// reorganisation and crash tests; CheckIndexes, Accounts and RuleCode are
// the checks they share. Blocks are mined with ledger/miner's Solve.
//
// FaultStore wraps a ledger.Store and fails from a chosen write onwards, as
// if the process died there; crash-consistency tests reopen the store after
// each such failure.
package ledgertest
