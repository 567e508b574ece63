// Package miner mines ledger blocks: Solve searches nonces for a header,
// and a Miner runs Solve on N goroutines over the chain's block templates,
// hands every block it finds to Chain.ProcessBlock and reports the hash
// rate.
//
// It owns the mining goroutines and the clock reads the ledger package
// leaves to its caller: Miner.Start launches them under a context, Stop
// cancels it and waits for every one to end; the clock is injected
// (Config.Now). What a block must be (template, rules, proof of work)
// stays in ledger.
//
// Decisions:
//
//   - Midstate hashing. The 96-byte header keeps the nonce in its last 8
//     bytes (ledger.NonceOffset), so its first 64 bytes are one SHA-256
//     block: Solve compresses them once and restores that state
//     (crypto/sha256's BinaryMarshaler state, which keeps SHA-NI) for each
//     nonce, which then costs two compressions instead of three.
//   - Threads. Thread i of N tries nonces i, i+N, i+2N, …, so no two
//     threads try the same one; the 64-bit nonce needs no extra-nonce.
//   - Templates. A new tip restarts the round at once; otherwise a new
//     template every Config.Refresh (default 2 s) picks up new
//     transactions and a fresh timestamp.
package miner
