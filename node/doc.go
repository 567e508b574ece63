// Package node is myco's composition root: it owns the repo directory
// (config.json, the libp2p identity, the wallet key, the lock, the api and
// api.token files), builds the libp2p host, wires the dht, swarm and ledger
// services together, serves the authenticated HTTP JSON API, and provides
// the API client the CLI uses. It is the only myco package cmd/myco
// imports: the few types and helpers of dht, swarm, ledger, chunker and
// internal/service the CLI needs are re-exported in reexport.go.
//
// Decisions where DESIGN.md is silent:
//
//   - New pushes each resource onto one cleanup stack (cleanup.go) as soon
//     as it exists: the host, the content store, the chain, the DHT, the
//     swarm, netsync, then the node's own goroutines (cancel and wait),
//     mDNS and the relay service. A failure unwinds the stack once, last
//     made first, joining the closers' errors to the cause; Close saves
//     the peers, stops the miner and unwinds the same stack, so the host
//     closes last, after every service that uses it.
//   - The whole HTTP surface is registered in one file, api_routes.go:
//     every route of the API (method, path, handler) and of the gateway.
//     The handlers are named methods beside what they serve.
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
//     connections younger than a minute. Its per-peer memory is libp2p's
//     (64 MiB and more): capping it at 6 or 16 MiB took about 5 MiB off the
//     largest peak RSS of 24 daemons fetching at once (testnet/bench.sh),
//     but a flooding peer then ran out of streams (each muxer stream
//     reserves a 256 KiB window, a swarm stream 1.1 MiB more) before the
//     DHT's write budget could ban it (TestAttackProviderFloodBanned), and
//     a node could fetch only a few roots from one peer at a time.
//   - A peer is dialled on its TCP addresses first and on QUIC 250 ms
//     later (dialRanker in host.go): a QUIC connection costs about twice
//     the CPU per byte, in user space, and keeps its queued packets in our
//     memory. Peers with QUIC alone, and hole punches (go-libp2p dials
//     every address at once for those), still use QUIC.
//   - Yamux streams (TCP connections) start with a 4 MiB receive window,
//     not yamux's 256 KiB, so a seeder keeps sending while window updates
//     are on their way (host.go has the figures). go-yamux reserves only
//     the first 256 KiB of it from the resource manager; a peer may send
//     the rest ahead of our reads on any stream, as it may once a window
//     grew, and as go-libp2p's QUIC allows up to 10 MiB.
//   - A daemon runs its garbage collector at GOGC=30 unless the
//     environment sets GOGC or GOMEMLIMIT (memory.go says why, with the
//     figures, and why not a memory limit).
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
//   - Reaching peers at home: every node runs AutoNAT v1 (which decides the
//     host's reachability event that the DHT, autorelay and the relay
//     service follow) and answers a few AutoNAT dial-backs for others (60
//     a minute, 3 per peer), runs AutoNAT v2 for its addresses, the circuit
//     relay v2 transport, DCUtR hole punching and autorelay. Autorelay's
//     candidates are config relay.static, then the bootstrap peers, then
//     connected peers that identify as relays; it starts reserving with one
//     candidate (libp2p waits for four by default, which a home with one
//     configured relay never has) and keeps up to two reservations.
//   - The relay service (relay.service; on by default for main, off for
//     dev) runs only while AutoNAT finds the node public. A relayed
//     connection carries at most relay.circuit_data bytes each way (128k)
//     for relay.circuit_duration (2m): enough for control messages and a
//     hole punch, not for file data; libp2p opens no data streams on such
//     limited connections unless asked to, and waits for the direct one.
//   - A relay whose operator sets relay.carry_data carries file data for
//     peers that cannot punch through (both symmetric): its circuits stay
//     limited but allow 1024G for an hour, and one token bucket of
//     relay.carry_rate (1 MB/s) paces what it forwards, all circuits and
//     both directions together (the relay service runs on a host wrapper
//     whose streams wait on the bucket as they are read). A session
//     stream waits 10 s for a direct connection, then goes over a relayed
//     connection whose circuit allows at least 64 MiB. Only the relayed
//     connection that exists is looked at: a peer reached through a relay
//     that carries no data is not re-dialled through another that does.
//   - The DHT mode follows dht.mode: "auto" is a server while public and a
//     client otherwise; "server" and "client" force it. Unset is auto on
//     main and server on dev, whose loopback nodes are never found public.
//   - UPnP/NAT-PMP port mapping runs on main only: a dev node on loopback
//     has no gateway to ask.
//   - announce replaces the addresses told to peers but keeps the relay
//     addresses (without them a private node with announce set could not
//     be reached at all); no_announce then removes exact multiaddrs and
//     /ipcidr ranges. Hole punching uses the same filtered addresses.
//   - A fetch that found no reachable provider says so, and when the DHT
//     named holders that it never reached (offline, or behind NATs this
//     node cannot punch through, such as two symmetric NATs) it says how
//     many and that forwarding the listen port would help. The node
//     remembers the providers named per root being fetched (at most 256
//     roots, 64 peers each) and forgets them when the fetch ends.
//   - `swarm limits` changes last until the daemon stops; with --save the
//     node also writes them to config.json (the file, re-read, so daemon
//     flags are not written there).
//   - The web dashboard (api_webui.go, assets in node/webui) shares the
//     API's address. Its session cookie is named after the API port, since
//     browsers share cookies across the ports of a host. Files uploaded
//     through it are saved under <repo>/uploads (a taken name gets " (1)")
//     and shared by reference like any file; removing the root leaves the
//     file there. A fetch started from it outlives the page that asked and
//     goes into <repo>/downloads unless the page names a folder. Its ban
//     button bans through the ledger's blocklist, which is the host's
//     connection gater (24 hours unless the request says otherwise).
//   - A dev config puts the API on 127.0.0.1:0 (the kernel picks a port,
//     the api file says which), so dev daemons run side by side. Before
//     starting, the daemon binds each listen address with a fixed port and
//     the API address once without SO_REUSEPORT: libp2p's listeners use
//     that option, so two daemons on one port would otherwise share it in
//     silence; a taken address is an error naming it.
//   - What the repo alone knows is answered without a daemon (offline.go):
//     the peer id and wallet address from the keys, and, under the repo
//     lock while no daemon holds it, the roots and gc of the store.
//   - The daemon's log goes to stderr or to a file rotated by size
//     (logfile.go); `log level` and `shutdown` go through the API
//     (api_daemon.go) and change nothing on disk.
//   - Errors that reach users are in words: a malformed CID is said once
//     (chunker.ParseCID), a refused transfer with what to do.
//   - CAR files (car.go, api_car.go): GET /api/v0/export streams a CARv1
//     of a root (fetched from the swarm first if it is not here, like cat)
//     with every block read and verified as it goes out; POST
//     /api/v0/import takes the CAR as the raw request body (up to 1 TiB)
//     and answers once every block is verified and the roots are kept. A
//     CAR is kept in the store's index (a copy, unlike a share by
//     reference); a root already kept is left as it is. Something wrong
//     with the CAR is a 400 and nothing of it is kept.
//   - cat, ls, export and fetch take CID[/PATH] (also /ipfs/CID/PATH): the
//     path is followed through basic and HAMT-sharded folders; cat, export
//     and fetch fetch the whole root first when it is not here (the swarm
//     trades whole roots), and fetch then writes only what PATH names.
//   - The trustless gateway (gateway.go) has its own listener and no token:
//     config gateway (absent: 127.0.0.1:8040 on main, 127.0.0.1:0, a free
//     port, on dev so many dev nodes share a machine; "" is off); the
//     daemon writes the address to <repo>/gateway. It is read-only (GET,
//     HEAD) and serves what the node keeps; with gateway_fetch it first
//     fetches a missing root, whole, through the swarm (and keeps it). A
//     CAR's root is the CID of the request; it holds the blocks that prove
//     the path, then dag-scope's blocks. An error after a CAR's first byte
//     aborts the connection (the client's CAR ends short). Directory
//     listings are one HTML template with a strict Content-Security-Policy.
//   - Payment channels (channels.go, vouchers.go, api_channels.go): the
//     node's ChannelManager signs vouchers as payer (PayerVoucher: an
//     amount on top of the highest it signed, so cumulative amounts only
//     grow) and accepts them as payee (PayeeAccept: a voucher below the
//     highest accepted, or a copy of it, is ignored without a signature
//     check and is not an error; any other goes through the ledger's
//     CheckVoucher and is kept only if above the highest). Both write the
//     voucher to a leveldb in <repo>/vouchers with a synced write before
//     it is handed out or acknowledged, so a crash never makes the payer
//     sign the same or a lower amount again nor the payee forget what it
//     acknowledged.
//   - Paid bandwidth (swarmpay.go): the swarm pays and is paid through
//     those two methods. channels.price (daemon --price) is what the node
//     charges per MiB it uploads; a fetch's budget (fetch --pay,
//     channels.pay_max) is the most it pays priced peers. A paying fetch
//     reuses an open channel of the wallet to the payee whose deposit
//     covers the payment and that lives at least twice the close margin
//     longer, or opens one with the fetch's remaining budget as deposit
//     and waits until it is mined (one open per payee at a time, so
//     peers and fetches paying one payee share a channel). A download
//     resumed at start has no budget until it is fetched again with one.
//   - The payee closes each open channel it holds a voucher for with the
//     highest one once the tip is within channels.close_margin blocks of
//     the expiry (default 6 on main; 20 on dev, whose new chains mine
//     many blocks a second), at every new tip and after every accepted
//     voucher; a close dropped from the mempool is submitted again. A
//     channel it holds no voucher for is left to the payer's refund (a
//     close needs a voucher). Once its close is pending it refuses higher
//     vouchers, which the close could not carry. There is no automatic
//     refund: the payer refunds with `channel refund`, refused before
//     the expiry height. `channel open --expiry` counts blocks from the
//     tip (default 1440 on main, 100 on dev) and must exceed this node's
//     close margin.
//   - EnvCrashAfterVoucherStore makes a daemon kill itself between
//     storing a voucher and handing it out: the crash tests' only way to
//     stop a process at that point.
package node
