// Package dht owns peer and content discovery: the go-libp2p-kad-dht
// instance under the "/myco" protocol prefix, bootstrapping, providing and
// reproviding root CIDs, and finding providers.
//
// It does not move content; the swarm package does that with the peers
// this package finds. It does not create the libp2p host either: the node
// passes one to New and closes it after Close.
//
// # Decisions
//
//   - A network of its own. ProtocolPrefix("/myco") makes the protocol
//     "/myco/kad/1.0.0": myco nodes never join IPFS's Amino DHT, and the
//     library's Amino parameter checks do not apply, which lets myco choose
//     its own record validity. Bucket size (20), concurrency (10) and
//     resiliency (3) stay at the library's defaults.
//   - Mode. Auto by default: the node serves DHT queries once libp2p
//     measures it publicly reachable, and is a client until then.
//     Config.ForceServer makes it a server regardless; the dev network and
//     the tests set it, because on loopback AutoNAT never reports a node
//     public and every node would stay a client. Config.ForceClient makes
//     it a client regardless. Mode reports the current mode: in auto the
//     library switches by adding and removing its protocol handler, and its
//     own Mode reports only the option.
//   - Bootstrap. Config.BootstrapPeers are dialled in parallel by
//     Bootstrap, which then waits for a peer to enter the routing table and
//     runs one refresh. Unreachable peers are named in the error
//     (ErrBootstrapUnreachable); the node keeps running and the library
//     retries the bootstrap peers whenever the table runs empty. The table
//     is then refreshed every Config.RefreshInterval (10 min) by the
//     library's refresh manager. A node bootstrapped to a single peer
//     fills its table with the rest of the network this way.
//   - Storage. One leveldb (go-ds-leveldb) in Config.DataDir is the
//     library's Datastore: provider records this node stores for others,
//     value records, and the provide set. The library's provider manager
//     buffers record writes and flushes them in batches and on Close, so
//     records survive a clean restart; they are stamped with the wall clock
//     and dropped after Config.ProvideValidity (48 h by default).
//   - Bounded storage for others. The library's provider manager writes
//     through boundedProviders, a layer over the leveldb that indexes the
//     provider records (/providers/<key>/<peer>) and caps them per
//     providing peer (Config.MaxProviderRecordsPerPeer, 2,000) and in total
//     (Config.MaxProviderRecords, 50,000; about 15 MB of index at the
//     cap). Past a peer's cap its least recently written record goes; past
//     the total, anyone's (LRU). Evictions are deleted in the same batch
//     as the write; the library's expiry (ProvideValidity, swept hourly)
//     deletes through the same layer, so the index matches the disk. The
//     library stores a record only when its provider is the peer that sent
//     it (ADD_PROVIDER naming anyone else is dropped); records are not
//     signed, so that is the whole check. The library cannot take a
//     custom provider store, which is why the bound sits in the datastore.
//   - Write budgets. Every peer has a token bucket of DHT writes
//     (ADD_PROVIDER, PUT_VALUE; Config.WritesPerSecond 100, WriteBurst
//     1,000), applied by the library's request hook before the message is
//     handled: a write a little over budget waits (up to WriteMaxDelay,
//     200 ms) on the sender's own stream, one further over is refused (the
//     message is emptied so nothing is stored, the stream reset) and
//     reported to Config.OnWriteRefused, which the node turns into
//     misbehaviour points and, repeated, a ban.
//   - Roots only. Provide announces a file's root CID, never its chunks:
//     per-block providing is what makes IPFS's reproviding slow, and the
//     swarm learns which chunks a peer holds from the peers of the root.
//   - Our own small reprovider, not the library's SweepingProvider. The
//     sweeping provider batches millions of block CIDs by keyspace region
//     and needs modules myco does not pin (go-libdht, reservedpool); a node
//     here provides a handful of roots, which the library's classic Provide
//     (closest-peer lookup, then ADD_PROVIDER to each) announces well.
//     The set of roots lives in leveldb under /myco/provide, written before
//     anything is sent, so it survives a crash. A reprovide announces the
//     whole set, Config.ReprovideConcurrency roots at a time; it runs
//     Config.ReprovideDelay after start (records that expired while the
//     node was down come back soon) and then every
//     Config.ReprovideInterval, which must be at most half the validity
//     (12 h of 48 h by default). Tests inject the ticks.
//   - Unprovide forgets a root; the library has no way to withdraw a record
//     from other nodes, so those age out after their validity.
//   - FindProviders starts the iterative lookup at once (there is no
//     search delay like IPFS's 1 s ProviderSearchDelay) and, in parallel,
//     sends one GET_PROVIDERS straight to each already-connected DHT peer
//     (at most Config.MaxDirectAsks): a swarm peer that holds the root
//     answers in one round trip. Results are merged, deduplicated, stream
//     on a channel as they arrive, and exclude the local node. Nobody dials
//     a provider during a lookup, so an offline provider costs nothing.
//   - Cost is observable: FindOptions.Stats reports the messages sent and
//     the referral rounds, taken from the library's lookup events.
//   - CIDs. Text is parsed by chunker.ParseCID, which owns CIDs; the DHT
//     accepts CIDv0 as well as CIDv1 (records are keyed by the multihash,
//     so both name the same content) and checks the size of a stored CID
//     before decoding it. Errors wrap ErrMalformedCID, which is chunker's.
package dht
