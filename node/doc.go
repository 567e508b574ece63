// Package node is myco's composition root: it owns the repo directory
// (config.json, the libp2p identity, the wallet key, the lock, the api and
// api.token files), builds the libp2p host, wires the dht, swarm and ledger
// services together, serves the authenticated HTTP JSON API, and provides
// the API client the CLI uses.
//
// Decisions where DESIGN.md is silent:
//
//   - The repo lock is an flock(2) on <repo>/repo.lock, so a daemon that
//     crashed never leaves a stale lock behind; a stale api file left by a
//     crash is detected by the client (connection refused) and reported as
//     "no daemon is running".
//   - The API token is regenerated at every daemon start and written before
//     the api file, both mode 0600; a client reading the api file always
//     finds the matching token.
//   - The dev network listens on 127.0.0.1 with kernel-picked ports (many dev
//     nodes per machine); main listens on all interfaces, TCP and QUIC on
//     port 4040, and also meets peers on the LAN through mDNS.
//   - The resource manager uses go-libp2p's scaling defaults scaled to the
//     configured memory (default 1 GiB) and descriptors (default 1024); the
//     connection manager trims from 256 down to 64 connections, sparing
//     connections younger than a minute.
//   - Bootstrap peers are dialled at start and again every 30 s while the
//     node is connected to none of them; an unreachable one is a warning,
//     never fatal.
package node
