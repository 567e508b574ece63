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
//   - A fetch lives as long as the API request that asked for it: when the
//     client goes away (Ctrl-C, a killed CLI) or the request's timeout
//     passes, the node cancels the fetch and its partial data is removed.
//     A daemon that stops pauses its fetches instead: every request's
//     context ends with ErrDaemonStopping when shutdown begins, so a fetch
//     stream ends at once with {"type":"error","stopped":true,...}, the
//     swarm keeps the data, and the fetches resume in the background at the
//     next start (never delaying "daemon ready").
//   - FetchRequest.Timeout bounds the whole fetch on the daemon; the CLI
//     waits a few seconds longer for that answer before it gives up, and
//     then cancels the fetch itself.
//   - `stat --watch` polls GET /api/v0/stat every second from the CLI
//     rather than holding a stream open: it needs nothing at shutdown and
//     a stopped daemon is simply a refused connection.
//   - The peers of unfinished fetches, then recently connected peers, at
//     most 64, are remembered in <repo>/peers.json (written every 2
//     minutes, when a fetch finds its first peers or a connect succeeds,
//     and at Close) and dialled at start.
//   - Warnings and errors go through internal/logdedup: one cause (message
//     plus root, cid or path) is logged once, then counted at most once a
//     minute.
//   - `swarm limits` changes last until the daemon stops; with --save the
//     node also writes them to config.json (the file, re-read, so daemon
//     flags are not written there).
package node
