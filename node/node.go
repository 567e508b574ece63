package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	"github.com/libp2p/go-libp2p/p2p/host/relaysvc"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/myco-p2p/myco/chunker"
	mycodht "github.com/myco-p2p/myco/dht"
	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/ledger/leveldbstore"
	"github.com/myco-p2p/myco/ledger/miner"
	"github.com/myco-p2p/myco/ledger/netsync"
	"github.com/myco-p2p/myco/node/keyfile"
	"github.com/myco-p2p/myco/swarm"
)

// mdnsServiceName tags myco's mDNS announcements on the LAN.
const mdnsServiceName = "_myco-main._udp"

// bootstrapRetry is how often the node re-dials its bootstrap peers while it
// is connected to none of them.
const bootstrapRetry = 30 * time.Second

// dialTimeout bounds one dial to one peer.
const dialTimeout = 15 * time.Second

// Options adjust a Node beyond its repo's config.
type Options struct {
	// Logger receives the node's logs; nil discards them.
	Logger *slog.Logger
	// Host, when set, is used instead of building a libp2p host from the
	// config (tests pass mocknet hosts). The node closes it on Close.
	Host host.Host
	// Listen, when non-empty, replaces the config's listen addresses.
	Listen []string
	// Bootstrap, when non-empty, replaces the config's bootstrap peers.
	Bootstrap []string
	// Registry collects the node's metrics; nil makes a fresh one.
	Registry *prometheus.Registry
}

// Node is a running myco node: the libp2p host and the services on it.
type Node struct {
	repo      *Repo
	cfg       Config
	log       *slog.Logger
	host      host.Host
	reg       *prometheus.Registry
	network   ledger.Network
	wallet    string
	bootstrap []peer.AddrInfo
	mdns      mdns.Service
	relay     *relaysvc.RelayManager
	dht       *mycodht.DHT
	store     *chunker.Store
	swarm     *swarm.Service
	chain     *ledger.Chain
	netsync   *netsync.Service
	blocklist *netsync.Blocklist
	miner     *miner.Miner
	walletKey *btcec.PrivateKey
	claims    *claims
	claimKick chan struct{}
	channels  *ChannelManager
	peersKick chan struct{}
	reach     reachState
	holders   holders
	bw        *metrics.BandwidthCounter // bytes of the node's protocols

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	closers   cleanup // what New made, in order (cleanup.go)
	closeOnce sync.Once
	closeErr  error
}

// New starts a node for an opened repo. The caller must Close it.
//
// Each resource goes onto one cleanup stack as soon as it exists; if New
// fails, the stack is unwound once, last made first, and its errors are
// joined to the cause. Close unwinds the same stack.
func New(repo *Repo, opts Options) (_ *Node, err error) {
	var stack cleanup
	defer func() {
		if err != nil {
			err = errors.Join(err, stack.unwind())
		}
	}()
	cfg := repo.Config
	if len(opts.Listen) > 0 {
		cfg.Listen = opts.Listen
	}
	if len(opts.Bootstrap) > 0 {
		cfg.Bootstrap = opts.Bootstrap
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	netw, err := ledger.ParseNetwork(cfg.Network)
	if err != nil {
		return nil, err
	}
	var boot []peer.AddrInfo
	for _, s := range cfg.Bootstrap {
		ai, err := ParsePeerAddr(s)
		if err != nil {
			return nil, fmt.Errorf("bootstrap: %w", err)
		}
		boot = append(boot, ai)
	}
	wk, err := keyfile.Load(repo.File(WalletFile))
	if err != nil {
		return nil, fmt.Errorf("load wallet key: %w", err)
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}

	// Peers that send the ledger invalid data are banned: netsync decides,
	// and the host's gater refuses their connections meanwhile.
	banDuration := cfg.Protect.banDuration()
	blocklist := netsync.NewBlocklist(time.Now, banDuration)
	h := opts.Host
	var relaySvc *relayService
	if h == nil {
		var err error
		if relaySvc, err = newRelayService(cfg.Relay, cfg.Network); err != nil {
			return nil, err
		}
		sk, err := repo.Identity()
		if err != nil {
			return nil, err
		}
		var relays []peer.AddrInfo
		for _, s := range cfg.Relay.Static {
			ai, err := ParsePeerAddr(s)
			if err != nil {
				return nil, fmt.Errorf("relay static: %w", err)
			}
			relays = append(relays, ai)
		}
		h, err = newHost(sk, hostConfig{
			Network:    cfg.Network,
			Listen:     cfg.Listen,
			Limits:     cfg.Limits,
			Relays:     append(relays, boot...),
			Announce:   cfg.Announce,
			NoAnnounce: cfg.NoAnnounce,
			Security:   cfg.Security,
		}, reg, blocklist)
		if err != nil {
			return nil, err
		}
	}
	stack.push(h.Close)
	store, err := chunker.Open(repo.File("content"), log.With("subsystem", "content"))
	if err != nil {
		return nil, fmt.Errorf("open content store: %w", err)
	}
	stack.push(store.Close)
	// The node's protocols count their bytes through ch (bandwidth.go).
	bw := metrics.NewBandwidthCounter()
	ch := &countingHost{Host: h, bw: bw}
	pending, err := loadClaims(repo.File(PendingFile))
	if err != nil {
		return nil, err
	}
	chain, err := leveldbstore.OpenChain(repo.File("chain"), netw, log.With("subsystem", "ledger"))
	if err != nil {
		return nil, fmt.Errorf("open chain: %w", err)
	}
	stack.push(chain.Close)
	// The DHT reports refused writes to netsync, which is built after it.
	var chainSvc atomic.Pointer[netsync.Service]
	// The dev network answers DHT queries unless dht.mode says otherwise:
	// on loopback AutoNAT never finds a node public, and a network of
	// clients finds nothing.
	dhtMode := cfg.DHT.Mode
	if dhtMode == "" {
		dhtMode = DHTModeAuto
		if netw == ledger.NetworkDev {
			dhtMode = DHTModeServer
		}
	}
	d, err := mycodht.New(ch, mycodht.Config{
		DataDir:        repo.File("dht"),
		BootstrapPeers: boot,
		ForceServer:    dhtMode == DHTModeServer,
		ForceClient:    dhtMode == DHTModeClient,
		Logger:         log.With("subsystem", "dht"),

		MaxProviderRecords:        cfg.Protect.DHTMaxProviderRecords,
		MaxProviderRecordsPerPeer: cfg.Protect.DHTMaxProviderRecordsPerPeer,
		WritesPerSecond:           cfg.Protect.DHTWritesPerSecond,
		WriteBurst:                cfg.Protect.DHTWriteBurst,
		// A refused DHT write counts towards the one ban netsync keeps.
		OnWriteRefused: func(p peer.ID) {
			if ns := chainSvc.Load(); ns != nil {
				ns.Penalize(p, overBudgetScore, "over its DHT write budget")
			}
		},
	})
	if err != nil {
		return nil, err
	}
	stack.push(d.Close)
	maxUp, err := parseLimit(cfg.Limits.MaxUpload)
	if err != nil {
		return nil, fmt.Errorf("max_upload: %w", err)
	}
	maxDown, err := parseLimit(cfg.Limits.MaxDownload)
	if err != nil {
		return nil, fmt.Errorf("max_download: %w", err)
	}
	// The swarm calls OnBroken before New returns the node only if a peer
	// asks for a broken root that early; the node takes over once built.
	var self atomic.Pointer[Node]
	price := amountOf(cfg.Channels.Price)
	var payTo []byte
	if price > 0 {
		a := ledger.AddressFromPubKey(wk.PubKey())
		payTo = a[:]
	}
	sw, err := swarm.New(ch, store, swarm.Config{
		Logger: log.With("subsystem", "swarm"),
		FindProviders: func(ctx context.Context, c cid.Cid, limit int) (<-chan peer.AddrInfo, error) {
			ch, err := d.FindProviders(ctx, c, mycodht.FindOptions{Limit: limit})
			if err != nil {
				return nil, err
			}
			n := self.Load()
			if n == nil {
				return ch, nil
			}
			return n.holders.watch(ctx, c, ch), nil
		},
		Provide:     d.Provide,
		MaxUpload:   maxUp,
		MaxDownload: maxDown,
		// A session may go through a relay that carries data once no
		// direct connection came.
		RelayedData: func(p peer.ID) bool { return carriesData(h, p) },
		Budget:      cfg.Protect.swarmBudget(),
		// Payments: this node's price and wallet, and its channels
		// (swarmpay.go), through the node once it is built.
		Price: price,
		PayTo: payTo,
		AcceptPayment: func(from peer.ID, v []byte) (uint64, error) {
			n := self.Load()
			if n == nil {
				return 0, errors.New("the node is starting")
			}
			return n.acceptPayment(from, v)
		},
		Pay: func(ctx context.Context, req swarm.PayRequest) ([]byte, error) {
			n := self.Load()
			if n == nil {
				return nil, errors.New("the node is starting")
			}
			return n.payPeer(ctx, req)
		},
		// A peer reset for staying over its message budget counts
		// towards the one ban netsync keeps.
		OnOverBudget: func(p peer.ID) {
			if ns := chainSvc.Load(); ns != nil {
				ns.Penalize(p, overBudgetScore, "over its swarm message budget")
			}
		},
		OnBroken: func(root cid.Cid, err error) {
			if n := self.Load(); n != nil {
				n.onBroken(root, err)
				return
			}
			log.Warn("shared root is broken: its file changed or vanished; share it again to re-import it", "root", root, "err", err)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("start swarm: %w", err)
	}
	stack.push(sw.Close)
	ns, err := netsync.New(ch, chain, netsync.Config{
		Logger:    log.With("subsystem", "netsync"),
		Now:       time.Now,
		Blocklist: blocklist,
		// netsync logs each ban once, with the peer, reason and duration.
		BanThreshold: cfg.Protect.BanThreshold,
		BanDuration:  banDuration,
		Budget:       cfg.Protect.chainBudget(),
		GossipBudget: cfg.Protect.gossipBudget(),
		// A peer's share of the mempool.
		MaxPeerMempoolTxs: cfg.Protect.MempoolMaxPerPeer,
	})
	if err != nil {
		return nil, fmt.Errorf("start ledger sync: %w", err)
	}
	stack.push(ns.Close)
	chainSvc.Store(ns)
	vouchers, err := openVoucherStore(repo.File(VoucherDir))
	if err != nil {
		return nil, err
	}
	stack.push(vouchers.Close)
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		repo:      repo,
		cfg:       cfg,
		log:       log,
		host:      h,
		reg:       reg,
		network:   netw,
		wallet:    ledger.AddressFromPubKey(wk.PubKey()).Encode(netw.Params()),
		bootstrap: boot,
		dht:       d,
		store:     store,
		bw:        bw,
		swarm:     sw,
		chain:     chain,
		netsync:   ns,
		blocklist: blocklist,
		walletKey: wk,
		claims:    pending,
		claimKick: make(chan struct{}, 1),
		peersKick: make(chan struct{}, 1),
		ctx:       ctx,
		cancel:    cancel,
	}
	self.Store(n)
	// The node's own goroutines end before the services they use close.
	stack.push(func() error {
		cancel()
		n.wg.Wait()
		return nil
	})
	closeFee, _ := parseFee(cfg.Channels.CloseFee) // Validate checked it
	n.channels = newChannelManager(channelManagerConfig{
		chain:  chain,
		key:    wk,
		store:  vouchers,
		margin: cfg.Channels.closeMargin(netw),
		fee:    closeFee,
		log:    log.With("subsystem", "channels"),
		submit: func(tx *ledger.Tx) (ledger.Hash, error) {
			_, err := n.submitTx(tx)
			return tx.ID(), err
		},
	})
	n.miner, err = miner.New(miner.Config{
		Chain:   chain,
		Address: ledger.AddressFromPubKey(wk.PubKey()),
		Now:     time.Now,
		Logger:  log.With("subsystem", "miner"),
		OnBlock: n.onMined,
	})
	if err != nil {
		return nil, err
	}
	if err := ns.Start(); err != nil {
		return nil, fmt.Errorf("start ledger sync: %w", err)
	}
	n.registerMetrics()
	if err := n.startReachWatch(); err != nil {
		return nil, err
	}
	n.wg.Add(2)
	go n.claimLoop()
	go func() {
		defer n.wg.Done()
		n.channels.run(n.ctx)
	}()
	// Remembered peers are dialled, and fetches interrupted by a crash or
	// a stop go on from the leaves on disk, in the background: re-checking
	// partial data must not delay "daemon ready".
	n.wg.Add(3)
	go n.peersLoop()
	go n.resume()
	go n.checkSources()

	// The dev network has no LAN discovery: peers meet only through
	// bootstrap and connect, so tests decide who meets whom.
	if netw == ledger.NetworkMain && opts.Host == nil {
		n.mdns = mdns.NewMdnsService(h, mdnsServiceName, mdnsNotifee{n})
		if err := n.mdns.Start(); err != nil {
			log.Warn("mDNS discovery unavailable", "err", err)
			n.mdns = nil
		} else {
			stack.push(n.mdns.Close)
		}
	}
	if relaySvc != nil {
		n.relay = relaySvc.start(h)
		stack.push(n.relay.Close)
	}
	if len(boot) > 0 {
		n.wg.Add(1)
		go n.bootstrapLoop()
	}
	n.closers = stack
	return n, nil
}

// Close stops every service of the node and its host. It is safe to call
// more than once.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		// The peers are remembered while the host still knows them.
		if err := n.savePeers(); err != nil {
			n.log.Warn("remember peers", "err", err)
		}
		n.cancel()
		n.miner.Stop()
		// Then New's cleanup stack, last made first: the relay service,
		// mDNS, the node's goroutines, netsync, the swarm, the DHT, the
		// chain, the content store and the host.
		n.closeErr = n.closers.unwind()
	})
	return n.closeErr
}

// resume restarts the fetches the store records as unfinished.
func (n *Node) resume() {
	defer n.wg.Done()
	dls, err := n.swarm.Resume(n.ctx)
	if err != nil && n.ctx.Err() == nil {
		n.log.Warn("resume interrupted fetches", "err", err)
	}
	if len(dls) > 0 {
		n.log.Info("resumed interrupted fetches", "count", len(dls))
	}
}

// onBroken handles a shared root whose file changed or vanished: the swarm
// has stopped serving it and marked it broken; the node stops providing
// it and says so once (the swarm calls this once per root).
// checkSources looks (by size and modification time, no hashing) at the
// files of every shared root once at start, so a file edited or deleted
// while the daemon was down is marked broken and no longer provided before
// any peer asks for it. Roots already marked broken are left as they are.
func (n *Node) checkSources() {
	defer n.wg.Done()
	roots, err := n.store.Roots()
	if err != nil {
		n.log.Warn("check shared files", "err", err)
		return
	}
	for _, r := range roots {
		if n.ctx.Err() != nil {
			return
		}
		if r.Broken != "" {
			continue
		}
		cerr := n.store.CheckSources(r.Cid)
		if cerr == nil {
			continue
		}
		if !errors.Is(cerr, chunker.ErrSourceChanged) && !errors.Is(cerr, chunker.ErrSourceMissing) {
			n.log.Warn("check shared files", "root", r.Cid, "err", cerr)
			continue
		}
		if err := n.store.MarkBroken(r.Cid, cerr.Error()); err != nil {
			n.log.Warn("mark shared root broken", "root", r.Cid, "err", err)
			continue
		}
		n.swarm.Drop(r.Cid)
		n.onBroken(r.Cid, cerr)
	}
}

func (n *Node) onBroken(root cid.Cid, err error) {
	n.log.Warn("shared root is broken: its file changed or vanished; stopped serving and providing it; share the file again to re-import it",
		"root", root, "err", err)
	if n.ctx.Err() != nil {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.unprovide(n.ctx, root)
	}()
}

// Host returns the node's libp2p host.
func (n *Node) Host() host.Host { return n.host }

// Registry returns the Prometheus registry of the node's metrics.
func (n *Node) Registry() *prometheus.Registry { return n.reg }

// IDInfo describes the node to the user.
type IDInfo struct {
	ID      string   `json:"id"`
	Addrs   []string `json:"addrs"`
	Address string   `json:"address"`
	Network string   `json:"network"`
	Version string   `json:"version"`
	// Reachability is "public", "private" or "unknown", as AutoNAT last
	// found it.
	Reachability string `json:"reachability"`
	// NAT is the kind of NAT ("cone" or "symmetric") per transport ("tcp",
	// "udp") of a private node, where libp2p has found it.
	NAT map[string]string `json:"nat,omitempty"`
	// RelayAddrs are the addresses (of Addrs) through a relay that holds
	// a reservation for this node.
	RelayAddrs []string `json:"relay_addrs,omitempty"`
	// DHTMode is "server" or "client".
	DHTMode string `json:"dht_mode"`
}

// ID returns who the node is: its peer id, its addresses with /p2p/ID, its
// wallet address and its network, its reachability and relay addresses.
func (n *Node) ID() IDInfo {
	info := peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()}
	full, _ := peer.AddrInfoToP2pAddrs(&info)
	addrs := make([]string, 0, len(full))
	var relayAddrs []string
	for _, a := range full {
		addrs = append(addrs, a.String())
		if isCircuit(a) {
			relayAddrs = append(relayAddrs, a.String())
		}
	}
	sort.Strings(addrs)
	sort.Strings(relayAddrs)
	reach, nat := n.reach.get()
	return IDInfo{
		ID:           n.host.ID().String(),
		Addrs:        addrs,
		Address:      n.wallet,
		Network:      string(n.network),
		Version:      Version,
		Reachability: reach,
		NAT:          nat,
		RelayAddrs:   relayAddrs,
		DHTMode:      n.dht.Mode(),
	}
}

// PeerInfo describes one connected peer.
type PeerInfo struct {
	ID        string `json:"id"`
	Addr      string `json:"addr"`
	Direction string `json:"direction"`
	Latency   string `json:"latency,omitempty"`
	// Relayed and Transport describe the connection of Addr: through a
	// relay ("p2p-circuit") or direct over "tcp", "quic-v1", ...
	Relayed   bool   `json:"relayed"`
	Transport string `json:"transport"`
	// Conns lists every connection to the peer, Addr's first.
	Conns []ConnInfo `json:"conns"`
	// Score is the peer's misbehaviour score (banned at the threshold,
	// 100 by default; it decays by 1% a second).
	Score float64 `json:"score"`
	// Banned marks a peer that is not connected but banned: it has no
	// address or connections, and BanUntil and BanReason say why and
	// until when (RFC 3339).
	Banned    bool   `json:"banned,omitempty"`
	BanUntil  string `json:"ban_until,omitempty"`
	BanReason string `json:"ban_reason,omitempty"`
}

// ConnInfo describes one connection to a peer.
type ConnInfo struct {
	Addr      string `json:"addr"`
	Direction string `json:"direction"`
	Relayed   bool   `json:"relayed"`
	Transport string `json:"transport"`
	// Security is the secure channel: "/tls/1.0.0" or "/noise" on TCP,
	// "tls" for QUIC (TLS 1.3 is part of it).
	Security string `json:"security"`
}

// Peers lists the connected peers, one entry each, sorted by id. An entry's
// address is that of a direct connection where there is one, else of the
// first connection.
func (n *Node) Peers() []PeerInfo {
	var out []PeerInfo
	scores := n.netsync.Misbehaviour()
	for _, p := range n.host.Network().Peers() {
		conns := n.host.Network().ConnsToPeer(p)
		if len(conns) == 0 {
			continue
		}
		infos := make([]ConnInfo, 0, len(conns))
		for _, c := range conns {
			relayed, transport := connKind(c)
			infos = append(infos, ConnInfo{
				Addr:      c.RemoteMultiaddr().String(),
				Direction: directionName(c.Stat().Direction),
				Relayed:   relayed,
				Transport: transport,
				Security:  connSecurity(c),
			})
		}
		// Direct connections first, otherwise in the swarm's order.
		sort.SliceStable(infos, func(i, j int) bool { return !infos[i].Relayed && infos[j].Relayed })
		c := infos[0]
		pi := PeerInfo{
			ID:        p.String(),
			Addr:      c.Addr,
			Direction: c.Direction,
			Relayed:   c.Relayed,
			Transport: c.Transport,
			Conns:     infos,
			Score:     scores[p],
		}
		if l := n.host.Peerstore().LatencyEWMA(p); l > 0 {
			pi.Latency = l.Round(time.Microsecond).String()
		}
		out = append(out, pi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// connSecurity names the connection's secure channel.
func connSecurity(c network.Conn) string {
	st := c.ConnState()
	if st.Security != "" {
		return string(st.Security)
	}
	if strings.HasPrefix(st.Transport, "quic") {
		return "tls"
	}
	return "unknown"
}

func directionName(d network.Direction) string {
	switch d {
	case network.DirInbound:
		return "inbound"
	case network.DirOutbound:
		return "outbound"
	}
	return "unknown"
}

// Connect dials a peer given as a multiaddr ending in /p2p/ID.
func (n *Node) Connect(ctx context.Context, addr string) (peer.ID, error) {
	ai, err := ParsePeerAddr(addr)
	if err != nil {
		return "", err
	}
	if ai.ID == n.host.ID() {
		return "", fmt.Errorf("connect %s: that is this node", ai.ID)
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	if err := n.host.Connect(ctx, ai); err != nil {
		return "", fmt.Errorf("connect %s: %w", ai.ID, err)
	}
	n.peersChanged()
	return ai.ID, nil
}

// bootstrapLoop bootstraps the DHT at start (dial the bootstrap peers,
// then fill the routing table), and again every bootstrapRetry while the
// node is connected to none of them.
func (n *Node) bootstrapLoop() {
	defer n.wg.Done()
	t := time.NewTicker(bootstrapRetry)
	defer t.Stop()
	n.bootstrapDHT()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			if !n.connectedToBootstrap() {
				n.bootstrapDHT()
			}
		}
	}
}

func (n *Node) connectedToBootstrap() bool {
	for _, ai := range n.bootstrap {
		if n.host.Network().Connectedness(ai.ID) == network.Connected {
			return true
		}
	}
	return false
}

func (n *Node) bootstrapDHT() {
	if err := n.dht.Bootstrap(n.ctx); err != nil && n.ctx.Err() == nil {
		n.log.Warn("bootstrap incomplete", "err", err)
		return
	}
	n.log.Info("bootstrapped", "routing_table", len(n.dht.Peers()))
}

// mdnsNotifee connects to peers found on the LAN.
type mdnsNotifee struct{ n *Node }

func (m mdnsNotifee) HandlePeerFound(ai peer.AddrInfo) {
	n := m.n
	if ai.ID == n.host.ID() || n.ctx.Err() != nil {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		ctx, cancel := context.WithTimeout(n.ctx, dialTimeout)
		defer cancel()
		if err := n.host.Connect(ctx, ai); err != nil {
			n.log.Debug("mDNS peer unreachable", "peer", ai.ID, "err", err)
			return
		}
		n.log.Info("connected to LAN peer", "peer", ai.ID)
	}()
}

func (n *Node) registerMetrics() {
	gauge := func(name, help string, f func() float64) {
		n.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	gauge("myco_peers", "Number of connected peers.", func() float64 { return float64(len(n.host.Network().Peers())) })
	gauge("myco_dht_routing_table_peers", "Peers in the DHT routing table.", func() float64 { return float64(len(n.dht.Peers())) })
	gauge("myco_chain_height", "Height of the best chain's tip.", func() float64 { return float64(n.chain.Tip().Height) })
	gauge("myco_mempool_transactions", "Transactions waiting in the mempool.", func() float64 { return float64(n.chain.MempoolStats().Txs) })
	gauge("myco_miner_hashrate", "Miner hash rate in hashes per second.", func() float64 { return n.miner.Status().HashRate })
	n.reg.MustRegister(newSwarmCollector(n))
	n.reg.MustRegister(newProtectCollector(n))
}

// swarmCollector exports the swarm's byte counters, read at scrape time:
// in all and per root (kept roots and downloads under way).
type swarmCollector struct {
	n           *Node
	total, root *prometheus.Desc
}

func newSwarmCollector(n *Node) *swarmCollector {
	return &swarmCollector{
		n: n,
		total: prometheus.NewDesc("myco_swarm_bytes_total",
			"Block bytes exchanged with peers since the daemon started, by direction (up: sent, down: received).",
			[]string{"direction"}, nil),
		root: prometheus.NewDesc("myco_swarm_root_bytes_total",
			"Block bytes exchanged with peers since the daemon started for one root, by direction.",
			[]string{"root", "direction"}, nil),
	}
}

func (c *swarmCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.total
	ch <- c.root
}

func (c *swarmCollector) Collect(ch chan<- prometheus.Metric) {
	t := c.n.swarm.Totals()
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.CounterValue, float64(t.Uploaded), "up")
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.CounterValue, float64(t.Downloaded), "down")
	seen := map[cid.Cid]bool{}
	var roots []cid.Cid
	if kept, err := c.n.store.Roots(); err == nil {
		for _, r := range kept {
			seen[r.Cid] = true
			roots = append(roots, r.Cid)
		}
	}
	for _, st := range c.n.swarm.Sessions() {
		if !seen[st.Root] {
			seen[st.Root] = true
			roots = append(roots, st.Root)
		}
	}
	for _, r := range roots {
		rt := c.n.swarm.RootTotals(r)
		ch <- prometheus.MustNewConstMetric(c.root, prometheus.CounterValue, float64(rt.Uploaded), r.String(), "up")
		ch <- prometheus.MustNewConstMetric(c.root, prometheus.CounterValue, float64(rt.Downloaded), r.String(), "down")
	}
}
