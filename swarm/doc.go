// Package swarm owns the exchange of content chunks between peers: the
// /myco/swarm/1.0.0 protocol, the tit-for-tat choker, the piece picker and
// per-peer accounting.
//
// It reads and writes blocks through the chunker package's store and finds
// peers through whatever the node hands it; it never touches the ledger.
//
// # Layers
//
// The core of the package is pure and deterministic: the wire format
// (message.go, wire.go), Bitfield, the Choker, the Picker, the Pipeline,
// Accounting, the token-bucket Limiter, and sessionState (state.go), the
// decisions of one session. None of them starts a goroutine or reads the
// clock; they take the current time as an argument and randomness from an
// injected *rand.Rand, so tests replay whole scenarios in one goroutine
// without sleeping. The one blocking call is Limiter.Wait, the edge of the
// limiter: it waits on the Clock given to NewLimiter. Choker, Picker,
// Pipeline and sessionState are not safe for concurrent use (a session
// owns them under its lock); Accounting and Limiter are, since every
// stream reports to them. The session layer (streams, deadlines, the
// chunker store) sits on top and feeds them events.
//
// One clock: Config.Clock (Now, and After for waits) is read by the session
// logic, accounting, bans, and the rate limiters, so a test that drives a
// fake Clock drives all of them together; only socket deadlines use real
// time. The periodic work (rechoke, pipeline sizing, request timeouts, the
// no-provider and idle limits, peer exchange) runs on Config.Ticks, a
// one-second ticker by default, which tests replace by a channel.
//
// # Wire format
//
// Messages are frames: a uvarint body length, then the body, which is a type
// byte and the type's payload (see wire.go for the layout of each type).
// A Reader checks the length against its maximum (MaxMessageSize, a 1 MiB
// block plus 1 KiB) before it grows its buffer, and reuses that buffer for
// every message: a decoded Block's Data is valid until the next read. Every
// malformed input is a *WireError whose Code (an ErrorCode, itself usable
// with errors.Is) names the rule broken. Leaves are referred to by index;
// internal DAG nodes, which a downloader fetches first to learn the leaves,
// by CID. A Handshake carries the sender's leaf count, 0 when it does not
// know it yet, optionally the root's name (see Names) and the sender's
// terms (see Payments). A Reject says why: not found, choked, overloaded,
// broken (the sender's shared file changed or vanished; it serves nothing
// of the root any more), or unpaid (see Payments). A Payment carries a
// voucher. Peer exchange (Peers) is capped at MaxPeersPerMessage peers of
// MaxAddrsPerPeer addresses each.
//
// # Choker
//
// The Choker follows BitTorrent's mainline choker with the parameters of
// DESIGN.md, all injectable (ChokerConfig):
//
//   - Downloading, every RechokeInterval (10 s) the Slots (4) regular slots
//     go to the interested peers that sent us the most bytes over the
//     interval that just ended. A peer that has sent nothing for
//     SnubTimeout (60 s; counted from when it connected) is snubbed and can
//     hold only the optimistic slot. Among equal rates the current holders
//     keep their slots, then the rng decides.
//   - One optimistic slot rotates every OptimisticInterval (30 s) among the
//     interested peers without a regular slot, never to the same peer twice
//     in a row when anyone else is eligible. Peers connected less than
//     NewPeerWindow (60 s) are NewPeerWeight (3) times as likely to win. If
//     the optimistic peer turns out to be among the fastest at a rechoke it
//     is promoted to a regular slot and a new optimistic peer is drawn.
//   - A slot that frees (the holder leaves or loses interest) is refilled at
//     once, by the bytes received over the last and current intervals.
//   - Seeding, all Slots+1 slots go round robin: at every rechoke the
//     interested peers we have sent the fewest bytes get the slots; ties go
//     to the peer that held a slot longest ago, then to the rng. Ranking by
//     bytes rather than by turns means a peer that absorbs data slowly keeps
//     its place until it has had its share, and a newcomer is served first.
//     There is no optimistic slot when seeding: the rotation already gives
//     every peer a turn, and nothing is learned from what peers send us.
//
// Beyond DESIGN.md, the optimistic slot is a trial (ChokerConfig.TrialLeaves,
// Choker.Sent): a peer that has taken TrialLeaves leaves (4) on it since it
// last sent us anything, while it was old enough to be judged or had leaves
// we wanted, loses the slot at once and is benched from it for 1, 4, then
// 16 OptimisticIntervals; anything it sends clears its record. The count is
// in leaves, not time: a free-rider that is the only peer wanting each new
// leaf takes it within a second of being unchoked and would never run up
// trial time. Brand-new peers with nothing we want are not judged; they
// are who the slot is for.
//
// Deliberately not adopted: FairTorrent's deficit scheduling and PropShare.
// Both allocate upload bandwidth per block in proportion to what each peer
// gave, which needs a per-peer upload scheduler below the rate limiter and
// per-block decisions; they are work-conserving, so a free-rider still gets
// whatever reciprocating peers leave unused. The 4+1 slot choker with
// benched trials is well understood and easy to test deterministically.
// The seeding round robin above is deficit-like: it serves whoever has
// received least.
//
// The Choker returns Decisions (choke or unchoke, per peer, chokes first,
// sorted by peer ID); the session sends them. Randomness comes only from
// the injected *rand.Rand and maps are never iterated in a way that reaches
// the rng, so a seeded rng replays the same decisions.
//
// # Piece picker
//
// The Picker chooses which leaves to request from which peer: RandomFirst
// (4) leaves at random, so that the first ones come quickly and there is
// something to trade; then rarest first, by the number of session peers
// that have each leaf (tracked from bitfields, have messages and
// departures), random among equals through a permutation drawn once per
// picker; then endgame, once every missing leaf is requested: a peer with
// no request outstanding is asked for one leaf already requested from
// others, the one with the fewest requesters, each leaf from at most
// EndgamePeers (3) at once, and Received returns the peers to cancel when
// a copy arrives. Endgame is strict, as libtorrent's is by default: only
// idle peers get copies. With 1 MiB leaves and queues of up to 32, every
// missing leaf of a small file is requested early, and copies to every
// peer multiplied the bytes sent. A leaf is never requested from a peer
// that has not announced it, nor twice from the same peer.
//
// Leaves are requested whole. A leaf (at most 1 MiB) is the unit verified
// against its CID, so splitting it across peers would leave a bad sub-block
// without a culprit; with whole leaves a bad block names the peer that sent
// it. So there are no partly received leaves to "finish first"; what that
// BitTorrent rule guards against, a piece stuck at a slow peer, is handled
// by per-peer queue depths sized to the peer's rate (Pipeline), by the
// session failing a timed-out request (Picker.Failed returns the leaf to the
// pool at once) and by endgame.
//
// # Super-seeding
//
// A seeder whose upload is the swarm's bottleneck should not send a leaf
// twice before the swarm has it once. With Config.SuperSeed (by default
// SuperSeedAuto: on for a kept root whose serving session starts while
// MaxUpload caps the node) a serving session works as libtorrent's
// super-seeding (superseed.go): its bitfield is empty, and it tells each
// peer with Have of two leaves (superSeedOffers) no peer was told of yet,
// rarest first; a peer may request only the leaves it was told of (others
// are rejected as not found). It tells a peer of a new leaf once one of its
// leaves spread: another peer announced it, or the peer has it and no
// other peer lacks it (a lone downloader is not stalled). A leaf we sent
// counts as the peer's; and a downloader sends Have of each leaf it gets
// to every peer that does not hold every leaf, also to one that announced
// the leaf (as BitTorrent does), so the seeder sees leaves spread even
// when it told more than one peer of them. The downloaders' own picker is
// unchanged: rarest first among the session's peers, after RandomFirst
// random leaves, so what the seeder
// sent one peer is what the others fetch from it. A priced node does not
// super-seed by default (see Payments): peers that cannot reach each other
// (behind NATs without a hole punch) would stall at two leaves each, and a
// paying peer is owed every leaf it pays for.
//
// # Payments (pay.go)
//
// A node may charge for what it uploads (Config.Price, in the ledger's
// base units per MiB of leaves; internal nodes are free metadata) and a
// fetch may pay (FetchOptions.PayMax, through Config.Pay). The swarm never
// touches the ledger: a voucher is opaque bytes the node signs (Pay) and
// checks and keeps (AcceptPayment); the node's payment channels give them
// their meaning. The rules:
//
//   - Terms travel in the handshake: a priced node sends its Price and
//     PayTo; a fetch with budget left sends Pays. A priced node charges a
//     peer that said Pays for every leaf it sends it, from the handshake
//     on; a peer that did not say so is a free peer.
//   - Payment follows delivery, with a small credit: the payer pays each
//     priced peer for the leaves it received from it once it owes payStep
//     (4 MiB) worth, cumulatively (the price of all its bytes, rounded up,
//     less what it paid), and for the rest when it closes the stream; the
//     stream stays open until then (the priced side does not close a
//     paying peer's stream when both are done). The priced node serves a
//     paying peer at most payCredit (8 MiB) ahead of its payments; past
//     that a leaf waits for a payment, RequestTimeout/2 at most, then the
//     request is rejected as unpaid and the peer gets nothing more until it
//     pays. So a payer risks nothing it did not receive, and a seeder at
//     most payCredit's worth per peer. On an unpaid reject the payer sends
//     its last voucher again, once: the priced node may have refused it
//     before its chain saw the channel (three refused vouchers in a row
//     drop the peer).
//   - The priced node's choker (ChokerConfig.Priced) counts a payment as
//     the bytes it pays for, received from the peer: a paying peer ranks as
//     a fast uploader does, also while seeding (the round robin gives way
//     to tit-for-tat). Regular slots go only to peers that pay or gave us
//     something; free peers hold the optimistic slot, whose trial share of
//     a capped upload (cap/(Slots+1)) applies while seeding too. A paying
//     peer is not snubbed (at a low rate it pays less often than
//     SnubTimeout) and is not judged on trials; one that falls behind
//     loses its slot at once.
//   - A debt dies with the peer's streams: a payer counts what it owes per
//     stream and forgets it with the stream (as a payer that crashed and
//     restarted does), so when a paying peer comes back with no live paying
//     stream, the priced node writes off what its earlier streams left
//     unpaid (at most payCredit and a leaf) and serves it from what it
//     paid. Keeping the debt would stall an honest payer that restarted
//     (served less than a step, it never pays), and telling it the debt to
//     pay would make it pay twice for leaves a voucher lost at the crash
//     already paid (vouchers are cumulative: the next one carries the lost
//     one's amount). What a priced node risks is thus payCredit per
//     connection of a paying peer, no more than what it gives any new peer
//     identity, which costs nothing to make; a leaf charged but not sent
//     is refunded.
//   - A fetch pays within its budget; once it is spent, or the node cannot
//     pay (no funds), its streams stop paying and it gets what free peers
//     get. Fetching a root that is downloading raises its budget; when it
//     paid nothing more before, its streams to priced peers are opened
//     again saying it pays (the new stream replaces the old on both sides,
//     unless the peer opened the old one and wins the tie). A download
//     resumed at start has no budget until a fetch gives it one (the
//     budget is not written to disk).
//
// # Accounting and rate limits
//
// Accounting keeps per-peer bytes up and down and rates over a sliding
// window (DefaultRateWindow, 20 s, in one-second buckets; Meter), given
// explicit times; its PeerStats has the JSON names of `myco swarm stats`.
// Limiter is a token bucket whose rate can change at run time (SetRate
// wakes every waiter to recompute); its bucket holds a quarter second of the
// rate, at least 64 KiB, and a block larger than that passes when the bucket
// is full and leaves a debt, so the long-run rate holds for 1 MiB blocks.
// ParseRate reads `--max-upload 20M`: k, M, G, T are powers of 1000 (so 20M
// is the "20 MB/s" of DESIGN.md), Ki, Mi, Gi, Ti powers of 1024, an optional
// B and /s; 0 means unlimited.
//
// # Request pipelining
//
// Pipeline sizes the queue of requests outstanding to one peer the way
// libtorrent does: enough leaves to cover PipelineConfig.Target (3 s) of
// transfer at the peer's measured rate, between Min (2) and Max (32). A new
// peer starts at Min in slow start, growing by one leaf per leaf received
// (doubling per round trip) until its rate stops growing by 10% a second.
//
// # Sessions (state.go, session.go, service.go, peer.go, download.go)
//
// A Service runs the protocol on a libp2p host. A session is one root
// shared with a set of peers over one stream each: a download (Fetch), or
// a kept root we serve, created when the first peer asks for it and ended
// when its last peer leaves.
//
// A session is a state machine, the way etcd's raft (Step, Ready) and
// boxo's sessionWantSender do it. sessionState holds every decision
// (which peer has what, the Picker, the Choker, a Pipeline per peer,
// requests, backoffs, the lifecycle) and has no locks, no clock reads and
// no I/O. It is advanced by events (a peer joined or left, a message, a
// block arrived, a leaf or node stored, a store failure, bad data, a
// block sent, a tick at a time, a candidate peer, a dial ended, Finish
// returned, a served block's source broke, cancel or stop) and returns
// effects: send a message, serve or forget a request, store a block, drop
// or close a stream, ban, dial, peer exchange, find providers, provide,
// change the destination, finish, abort, mark the root broken, done, end.
// The session (session.go) is the executor: it steps the state under its
// lock and applies at once the effects that only queue (messages, serve
// queues, closing a stream), in order; the rest (Fetch.Finish and Abort,
// dials, lookups, bans, MarkBroken, ending the Download) go, in order, to
// the session's one executor goroutine. Each session owns a context,
// cancelled when it ends, that bounds its lookups, dials and streams.
// The scenarios in testdata/sessions are scripts of events in and effects
// out, run against the state alone (TestSessionScenarios).
//
// # Fetch lifecycle
//
// SessionStats.State follows a download: "queued" (created, not started)
// -> "finding peers" (no peer that has the root is in the session) ->
// "downloading" -> "verifying" (Finish: every leaf is in, the partial file
// is synced and renamed into place) -> "seeding" (done; the session serves
// the root until Stop or Close; "done" once it ended). Or it ends:
//
//   - "failed", with SessionStats.Reason in words and Download.Result an
//     error wrapping the cause: ErrNoProviders ("no peer provides the root
//     within 1m0s": no peer that has the root for FetchOptions.Timeout),
//     ErrNoDelivery ("peers were found but none delivered a block for
//     10m0s": FetchOptions.IdleLimit, default Config.IdleLimit),
//     ErrSourceBroken ("source changed on the sharer: ...": the peers that
//     had the root said their copy is broken, and no other provides it),
//     ErrStore ("cannot write the download: ...": PutLeaf, PutNode or
//     Finish failed for another reason than bad data, such as a full disk;
//     the fetch fails at once). The fetch is aborted without keeping the
//     partial data, so a fetch again starts clean.
//   - "cancelled": Cancel (Download or Service) or Service.Drop of a root
//     being fetched; ErrCancelled. The partial data is removed unless
//     Cancel was asked to keep it.
//   - "stopped": Download.Stop (ErrStopped) or Service.Close (ErrClosed).
//     The partial data stays; Resume (Fetch with dest "") continues it.
//
// Cancel, Stop and Drop return once the fetch is released, so a Fetch of
// the same root right after starts a new one. The final SessionStats of a
// failed or cancelled download stay in Service.Finished and FinishedList
// (the last 256) until the root is fetched again or Forget is called; a
// restart forgets them.
//
// # Never flood
//
// A peer that rejects a request (other than because it choked us) or lets
// one time out (RequestTimeout, 30 s: the leaf is cancelled and asked of
// another peer) backs off: no request goes to it for 1 s, doubling at
// every further failure to at most 60 s; a block it delivers ends the
// backoff. The no-provider limit (Timeout) and the idle limit bound a
// fetch that cannot progress; FindInterval (30 s) bounds lookups and
// dialing. Per-event logs are Debug; a ban, a failed download and a
// broken root are one line each.
//
// Serving side: when store.Get of a block of a kept root fails with
// chunker.ErrSourceChanged or ErrSourceMissing (the shared file changed
// or vanished), the seeder answers Reject with RejectBroken, logs it once,
// calls Store.MarkBroken and Config.OnBroken once, closes the root's
// streams and refuses new sessions for it while the store marks it broken
// (or, if the store could not record it, until the service restarts). A
// fetcher told RejectBroken stops asking that peer.
//
// # Names
//
// The Handshake carries an optional Name (CheckName: one safe path
// element, at most 255 bytes). A seeder announces Store.Root(root).Name; a
// downloader announces the name it learned. With FetchOptions.UseName the
// first valid name that arrives before Finish becomes the last element of
// the destination (Fetch.SetDest); if Finish then finds that path taken
// (chunker.ErrDestExists), it falls back once to the destination the fetch
// was started with.
//
// # Streams
//
//   - Each peer has three goroutines: a reader, which decodes messages
//     and queues each received leaf (copied out of its buffer) for the
//     peer's store goroutine, which verifies and writes it through
//     chunker.Fetch.PutLeaf outside the session lock, so hashing and disk
//     writes overlap with receiving, leaves from many peers are hashed in
//     parallel and each is written once, at its offset (storeq.go bounds
//     the leaves waiting); and a writer, the stream's only writer: control
//     messages first, then one requested block, flushed when the queues
//     are empty.
//   - The handshake carries the leaf count; a downloader that does not know
//     it yet (0) first asks peers that do for the internal nodes (by CID,
//     spread over those peers), then sends its bitfield. Bitfields that
//     arrive before we know the count are kept and checked against it.
//     Internal nodes are metadata and are served while choked, like
//     BitTorrent's info dictionary; only dag-pb nodes are served by CID,
//     leaves only by index, so a session cannot read other blocks.
//   - When both ends open a stream at once, the one opened by the smaller
//     peer ID survives on both sides; a second stream from the same opener
//     replaces the first (a reconnect).
//   - A leaf or node that does not hash to its CID (or is malformed) ends
//     the peer's stream, bans it from the root for BanDuration (1 h) and
//     closes its connection; the requests it held go back to the picker.
//   - Peer exchange: a joining peer is sent the session's other peers (with
//     the addresses in our peerstore), and every peer again each
//     PexInterval; a downloader dials those it does not know.
//   - Discovery: a fetch announces the root through Provide at once, asks
//     every connected peer, then FindProviders, again every FindInterval
//     while it has fewer than MaxSessionPeers peers.
//   - PeerAddrs lists the peers of unfinished downloads with their
//     addresses, for the node to remember and redial after a restart.
//   - Stages: each stream times its pipeline and logs it (Debug, "peer
//     stages") when it ends: receiving, the reader's wait for frames (the
//     sender, decryption, flow control) and for the store queue, the
//     store's verify-and-write time and its idle time; serving, the
//     writer's time reading blocks from the store, handing them to the
//     stream, and idle with no request queued. On a 1 GiB loopback fetch
//     they show the leecher waiting on the network and the seeder's writer
//     never idle, its time in store.Get (a pread and, before files were
//     trusted, the re-hash of the leaf): the sender is the critical path,
//     not the request pipeline.
//   - Memory: blocks live in buffers the service shares among its peers,
//     not in buffers of each peer: a leaf being received is read straight
//     into an aligned buffer for the store once its frame's header is
//     read (Reader.UseLeafBuffers; storeSlots, 4, kept for reuse), which
//     the store workers verify and write and give back, with no copy; any
//     other large frame (a node, a large bitfield) is read into one of
//     frameSlots (2) buffers of a FramePool; a block being served is read
//     (Store.GetInto) into one of serveSlots (2), given back once
//     written. A peer's reader keeps only a small buffer (64 KiB) of its
//     own. So a node that 30 peers send to and take
//     from reuses a handful of block buffers, where it kept one per peer
//     in each direction (storeq.go); more are in use only while more
//     blocks are on their way at once (next item). A stream reserves one
//     block and its buffers (1 MiB + 128 KiB) from the resource manager,
//     at most MaxPeers streams; a peer may queue at most 64 requests (more
//     are rejected as overloaded) and 65536 control messages (more and it
//     is dropped).
//   - No peer holds another's buffer (issue 19). A shared buffer is lent
//     for as long as a peer takes to send or read a block, so a stream
//     never waits for one: a bounded pool that made it wait let two peers
//     that send a block's length and then nothing, or ask for leaves and
//     never read them, stall every download or upload of the node. So,
//     a reader reads a leaf into a buffer for the store that counts as
//     the store's only once the leaf is whole and queued (a fresh one when
//     none is free; a peer that stops inside a leaf holds that one leaf's
//     buffer), with no FramePool buffer free it reads any other large
//     frame into a buffer of its own, 256 KiB until that is full and only
//     then the frame's size, and a writer reads the leaf into a fresh
//     buffer; each is garbage once used, and the pools keep only their few
//     for reuse. What bounds the buffers in use is what a stream
//     waits for first, holding nothing: a reader, once a block's length is
//     read and before it takes a buffer for the body, waits for the
//     download limiter's tokens and for room at the store (fewer than
//     storeSlots leaves between network and disk; the disk being behind is
//     the one thing every reader waits for, and its stream's flow control
//     then holds the sender); a writer, for its choker slot (Slots+1 peers
//     served per session) and the upload limiter. Beyond that, each stream
//     holds at most one block, which its memory reservation covers. A peer
//     that stops sending holds a buffer for at most StreamTimeout: a peer
//     inside a block that sent nothing of it for StreamTimeout (on the
//     service clock, checked at every tick; the reader notes each 32 KiB
//     that arrives) is dropped and reported like a peer over its message
//     budget (Config.OnOverBudget: the node scores it; an honest sender
//     never pauses that long, as its own write would time out; one that is
//     only slow, say a home uplink shared by five peers, keeps sending and
//     stays); and a write to a peer that does not read times out after
//     StreamTimeout too (a socket deadline). Rejected: a per-node cap on
//     the extra buffers, which a few more hostile peers fill as easily as
//     the pool; a body deadline alone, which new identities renew at will;
//     copying a leaf out of the serve buffer before the write, which costs
//     a copy per leaf to save a buffer that the slot limit already bounds.
//
// # Message budget
//
// Every control message (all but blocks, which the download limiter and
// their CIDs govern) is charged to its peer's Budget before it is handled:
// token buckets of messages and of bytes per peer, over all its sessions,
// on the service's clock. Within them a message is handled at once; once a
// peer is in debt its reader waits for the tokens (the stream is not read
// meanwhile, so flow control stalls the sender), and the peer counts as
// over budget until its buckets are half full again. A message that finds
// its peer over budget for longer than MaxDelay and still in debt ends the
// session stream with ErrOverBudget and is reported to
// Config.OnOverBudget (the node scores it through netsync, so a flood
// that keeps reconnecting is banned). The defaults are about ten times
// what an honest fetch at full speed sends (one request per leaf).
//
// # Accounting
//
// Service.Stats lists every peer exchanged with since the service started,
// with totals and current rates, not only the peers of running sessions.
// The map is bounded: a peer with no traffic for 10 minutes, or beyond the
// 1024 most recently active, is folded into Departed, so Totals stay
// right. RootTotals counts the bytes uploaded and downloaded per root since
// the service started, kept after the session ends.
//
// Upload beyond the choker: while downloading, a peer on the optimistic
// slot is served at most cap/(Slots+1) when an upload cap is set, and a
// block still waiting for the limiter when its peer is choked is not sent
// (a choke discards the peer's requests). What a free-rider gets, then:
// the trial leaves of each uploader, new-peer trials, and the seeders'
// round robin. The in-process test (14 uploaders capped at 512 KB/s, a
// seeder at 1 MB/s, 2+1 slots, a 128-leaf file) measures it finishing
// 1.2-1.3x the uploaders' mean when they leave once done, having got from
// them 0.45-0.75x of what they gave one another; when they stay and seed,
// 1.1-1.15x, because then all of them serve it at full rate, which no choker
// should refuse: a late joiner that is honest looks the same.
//
// Resume: a restarted node calls Resume; chunker re-verifies the leaves
// on disk and the picker starts with them, so only missing leaves are
// requested.
package swarm
