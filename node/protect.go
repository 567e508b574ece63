package node

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/myco-p2p/myco/ledger/netsync"
	"github.com/myco-p2p/myco/swarm"
)

// ProtectConfig bounds what one peer may ask of this node: the "protect"
// section of config.json. Every field is optional; zero takes the default
// in brackets, sized so that a home machine and an honest peer never reach
// it. A peer over a budget is answered more slowly, then refused, and
// every refusal adds to its misbehaviour score; at BanThreshold it is
// banned for BanDuration.
type ProtectConfig struct {
	// BanDuration is how long a ban lasts (Go duration) [1h].
	BanDuration string `json:"ban_duration,omitempty"`
	// BanThreshold is the misbehaviour score that bans a peer [100]. An
	// invalid block scores 50, an invalid transaction 20, a request refused
	// for being over budget 10; scores decay by 1% a second.
	BanThreshold float64 `json:"ban_threshold,omitempty"`

	// Chain sync (/myco/chain/1.0.0), per peer: requests a second and
	// their burst [100, 500]; headers sent a minute and their burst
	// [60000, 20000]; response bytes a second and their burst (sizes with
	// k/M/G) [8M, 64M]; how long an answer over budget may be held back
	// before the request is refused (Go duration) [5s].
	ChainRequestsPerSecond float64 `json:"chain_requests_per_second,omitempty"`
	ChainRequestBurst      float64 `json:"chain_request_burst,omitempty"`
	ChainHeadersPerMinute  float64 `json:"chain_headers_per_minute,omitempty"`
	ChainHeaderBurst       float64 `json:"chain_header_burst,omitempty"`
	ChainBytesPerSecond    string  `json:"chain_bytes_per_second,omitempty"`
	ChainByteBurst         string  `json:"chain_byte_burst,omitempty"`
	ChainMaxDelay          string  `json:"chain_max_delay,omitempty"`

	// DHT: provider records stored for others, in total and per providing
	// peer [50000, 2000] (past a cap the least recently written record
	// goes); writes (ADD_PROVIDER, PUT_VALUE) a peer may make a second
	// and their burst [100, 1000].
	DHTMaxProviderRecords        int     `json:"dht_max_provider_records,omitempty"`
	DHTMaxProviderRecordsPerPeer int     `json:"dht_max_provider_records_per_peer,omitempty"`
	DHTWritesPerSecond           float64 `json:"dht_writes_per_second,omitempty"`
	DHTWriteBurst                float64 `json:"dht_write_burst,omitempty"`

	// Swarm (/myco/swarm/1.0.0) control messages (every message but a
	// block), per peer over all its sessions: messages a second and their
	// burst [5000, 20000]; their bytes a second and burst (sizes with
	// k/M/G) [1M, 4M]; how long a peer may stay over budget, its messages
	// held back, before its session stream is reset (Go duration) [5s].
	SwarmMessagesPerSecond float64 `json:"swarm_messages_per_second,omitempty"`
	SwarmMessageBurst      float64 `json:"swarm_message_burst,omitempty"`
	SwarmBytesPerSecond    string  `json:"swarm_bytes_per_second,omitempty"`
	SwarmByteBurst         string  `json:"swarm_byte_burst,omitempty"`
	SwarmMaxDelay          string  `json:"swarm_max_delay,omitempty"`

	// Gossip: blocks and transactions one peer may relay to us a second,
	// and their bursts [100, 1000; 1000, 10000]; past them what it relays is
	// dropped unvalidated, and once it is further in debt than
	// gossip_max_delay of its rate (Go duration) [5s] refused and scored.
	GossipBlocksPerSecond float64 `json:"gossip_blocks_per_second,omitempty"`
	GossipBlockBurst      float64 `json:"gossip_block_burst,omitempty"`
	GossipTxsPerSecond    float64 `json:"gossip_txs_per_second,omitempty"`
	GossipTxBurst         float64 `json:"gossip_tx_burst,omitempty"`
	GossipMaxDelay        string  `json:"gossip_max_delay,omitempty"`

	// MempoolMaxPerPeer bounds the pending transactions first relayed by
	// one peer [1000]; past it the peer's transactions are ignored.
	MempoolMaxPerPeer int `json:"mempool_max_per_peer,omitempty"`
}

// validate checks every field and says which one is wrong.
func (p ProtectConfig) validate() error {
	for name, d := range map[string]string{"ban_duration": p.BanDuration, "chain_max_delay": p.ChainMaxDelay, "swarm_max_delay": p.SwarmMaxDelay, "gossip_max_delay": p.GossipMaxDelay} {
		if d == "" {
			continue
		}
		if v, err := time.ParseDuration(d); err != nil || v <= 0 {
			return fmt.Errorf("%s %q: want a positive duration such as 1h", name, d)
		}
	}
	for name, v := range map[string]float64{
		"ban_threshold":                     p.BanThreshold,
		"chain_requests_per_second":         p.ChainRequestsPerSecond,
		"chain_request_burst":               p.ChainRequestBurst,
		"chain_headers_per_minute":          p.ChainHeadersPerMinute,
		"chain_header_burst":                p.ChainHeaderBurst,
		"dht_writes_per_second":             p.DHTWritesPerSecond,
		"dht_write_burst":                   p.DHTWriteBurst,
		"dht_max_provider_records":          float64(p.DHTMaxProviderRecords),
		"dht_max_provider_records_per_peer": float64(p.DHTMaxProviderRecordsPerPeer),
		"mempool_max_per_peer":              float64(p.MempoolMaxPerPeer),
		"swarm_messages_per_second":         p.SwarmMessagesPerSecond,
		"swarm_message_burst":               p.SwarmMessageBurst,
		"gossip_blocks_per_second":          p.GossipBlocksPerSecond,
		"gossip_block_burst":                p.GossipBlockBurst,
		"gossip_txs_per_second":             p.GossipTxsPerSecond,
		"gossip_tx_burst":                   p.GossipTxBurst,
	} {
		if v < 0 {
			return fmt.Errorf("%s %v: must not be negative", name, v)
		}
	}
	for name, s := range map[string]string{
		"chain_bytes_per_second": p.ChainBytesPerSecond, "chain_byte_burst": p.ChainByteBurst,
		"swarm_bytes_per_second": p.SwarmBytesPerSecond, "swarm_byte_burst": p.SwarmByteBurst,
	} {
		if _, err := ParseSize(s); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// banDuration is BanDuration or its default (validate has checked it).
func (p ProtectConfig) banDuration() time.Duration {
	if d, err := time.ParseDuration(p.BanDuration); err == nil && d > 0 {
		return d
	}
	return time.Hour
}

// chainBudget is the chain protocol's per-peer budget; zero fields are
// netsync's defaults.
func (p ProtectConfig) chainBudget() netsync.Budget {
	b := netsync.Budget{
		RequestsPerSecond: p.ChainRequestsPerSecond,
		RequestBurst:      p.ChainRequestBurst,
		HeadersPerSecond:  p.ChainHeadersPerMinute / 60,
		HeaderBurst:       p.ChainHeaderBurst,
	}
	b.BytesPerSecond, b.ByteBurst, b.MaxDelay = bytesAndDelay(p.ChainBytesPerSecond, p.ChainByteBurst, p.ChainMaxDelay)
	return b
}

// bytesAndDelay parses a budget's byte rate, byte burst and delay
// (validate has checked them); one left out is zero, its default.
func bytesAndDelay(rate, burst, delay string) (r, b float64, d time.Duration) {
	if n, err := ParseSize(rate); err == nil {
		r = float64(n)
	}
	if n, err := ParseSize(burst); err == nil {
		b = float64(n)
	}
	d, _ = time.ParseDuration(delay)
	return r, b, d
}

// gossipBudget is what one peer may relay to us; zero fields are
// netsync's defaults.
func (p ProtectConfig) gossipBudget() netsync.GossipBudget {
	g := netsync.GossipBudget{
		BlocksPerSecond: p.GossipBlocksPerSecond,
		BlockBurst:      p.GossipBlockBurst,
		TxsPerSecond:    p.GossipTxsPerSecond,
		TxBurst:         p.GossipTxBurst,
	}
	g.MaxDelay, _ = time.ParseDuration(p.GossipMaxDelay) // validate has checked it
	return g
}

// swarmBudget is the swarm's per-peer control-message budget; zero fields
// are the swarm's defaults.
func (p ProtectConfig) swarmBudget() swarm.Budget {
	b := swarm.Budget{MessagesPerSecond: p.SwarmMessagesPerSecond, MessageBurst: p.SwarmMessageBurst}
	b.BytesPerSecond, b.ByteBurst, b.MaxDelay = bytesAndDelay(p.SwarmBytesPerSecond, p.SwarmByteBurst, p.SwarmMaxDelay)
	return b
}

// Bans lists the banned peers, soonest expiry first, as PeerInfo entries
// marked Banned.
func (n *Node) Bans() []PeerInfo {
	var out []PeerInfo
	for _, b := range n.netsync.Blocklist().List() {
		out = append(out, PeerInfo{
			ID:        b.Peer.String(),
			Banned:    true,
			BanUntil:  b.Until.UTC().Format(time.RFC3339),
			BanReason: b.Reason,
			Conns:     []ConnInfo{},
		})
	}
	return out
}

// protectCollector exports bans, misbehaviour scores and what the
// budgets did, read at scrape time.
type protectCollector struct {
	n                                     *Node
	banned, bans, delayed, refused, score *prometheus.Desc
	provRecords, provEvicted, dhtRefused  *prometheus.Desc
	dhtDisk, throttled, gatedBanned       *prometheus.Desc
	swarmMsgs, swarmDelayed, swarmRefused *prometheus.Desc
	gossipChecked, gossipShed             *prometheus.Desc
	gossipRefused                         *prometheus.Desc
}

func newProtectCollector(n *Node) *protectCollector {
	return &protectCollector{
		n:       n,
		banned:  prometheus.NewDesc("myco_banned_peers", "Peers banned now.", nil, nil),
		bans:    prometheus.NewDesc("myco_bans_total", "Peers banned since the daemon started.", nil, nil),
		delayed: prometheus.NewDesc("myco_chain_requests_delayed_total", "Chain sync requests answered late because their peer was over its budget.", nil, nil),
		refused: prometheus.NewDesc("myco_chain_requests_refused_total", "Chain sync requests refused because their peer was over its budget.", nil, nil),
		score: prometheus.NewDesc("myco_peer_misbehaviour_score",
			"Misbehaviour score of each peer that has one (banned at the threshold).", []string{"peer"}, nil),
		provRecords: prometheus.NewDesc("myco_dht_provider_records", "Provider records this node stores for others.", nil, nil),
		provEvicted: prometheus.NewDesc("myco_dht_provider_records_evicted_total", "Provider records evicted to keep the store within its caps.", nil, nil),
		dhtRefused:  prometheus.NewDesc("myco_dht_writes_refused_total", "DHT writes refused because their peer was over its budget.", nil, nil),
		dhtDisk:     prometheus.NewDesc("myco_dht_disk_bytes", "Size of the DHT's datastore on disk.", nil, nil),
		throttled: prometheus.NewDesc("myco_conns_throttled_total",
			"Inbound connections dropped before the handshake: too many from an address a banned peer used.", nil, nil),
		gatedBanned: prometheus.NewDesc("myco_conns_gated_banned_total",
			"Connections of banned peers refused once their handshake named them (each cost a handshake).", nil, nil),
		gossipChecked: prometheus.NewDesc("myco_gossip_checked_total",
			"Gossiped blocks and transactions from peers passed on to validation within their relay's budget.", nil, nil),
		gossipShed: prometheus.NewDesc("myco_gossip_shed_total",
			"Gossiped blocks and transactions dropped unvalidated because their relay was over its gossip budget.", nil, nil),
		gossipRefused: prometheus.NewDesc("myco_gossip_refused_total",
			"Gossiped blocks and transactions refused, and their relay scored, because it was far over its gossip budget.", nil, nil),
		swarmMsgs: prometheus.NewDesc("myco_swarm_control_messages_total",
			"Swarm control messages (all but blocks) received and charged to their peer's budget.", nil, nil),
		swarmDelayed: prometheus.NewDesc("myco_swarm_messages_delayed_total",
			"Swarm control messages handled late because their peer was over its budget.", nil, nil),
		swarmRefused: prometheus.NewDesc("myco_swarm_messages_refused_total",
			"Swarm control messages refused (the session stream reset) because their peer stayed over its budget.", nil, nil),
	}
}

func (c *protectCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.banned, c.bans, c.delayed, c.refused, c.score, c.provRecords, c.provEvicted, c.dhtRefused, c.dhtDisk, c.throttled, c.gatedBanned, c.swarmMsgs, c.swarmDelayed, c.swarmRefused, c.gossipChecked, c.gossipShed, c.gossipRefused} {
		ch <- d
	}
}

func (c *protectCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.n.netsync.Stats()
	ch <- prometheus.MustNewConstMetric(c.banned, prometheus.GaugeValue, float64(st.Banned))
	ch <- prometheus.MustNewConstMetric(c.bans, prometheus.CounterValue, float64(st.Bans))
	ch <- prometheus.MustNewConstMetric(c.delayed, prometheus.CounterValue, float64(st.RequestsDelayed))
	ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(st.RequestsRefused))
	ch <- prometheus.MustNewConstMetric(c.gossipChecked, prometheus.CounterValue, float64(st.GossipChecked))
	ch <- prometheus.MustNewConstMetric(c.gossipShed, prometheus.CounterValue, float64(st.GossipShed))
	ch <- prometheus.MustNewConstMetric(c.gossipRefused, prometheus.CounterValue, float64(st.GossipRefused))
	bl := c.n.netsync.Blocklist()
	ch <- prometheus.MustNewConstMetric(c.throttled, prometheus.CounterValue, float64(bl.Throttled()))
	ch <- prometheus.MustNewConstMetric(c.gatedBanned, prometheus.CounterValue, float64(bl.GatedBanned()))
	sb := c.n.swarm.BudgetStats()
	ch <- prometheus.MustNewConstMetric(c.swarmMsgs, prometheus.CounterValue, float64(sb.Messages))
	ch <- prometheus.MustNewConstMetric(c.swarmDelayed, prometheus.CounterValue, float64(sb.Delayed))
	ch <- prometheus.MustNewConstMetric(c.swarmRefused, prometheus.CounterValue, float64(sb.Refused))
	ps := c.n.dht.ProviderStore()
	ch <- prometheus.MustNewConstMetric(c.provRecords, prometheus.GaugeValue, float64(ps.Records))
	ch <- prometheus.MustNewConstMetric(c.provEvicted, prometheus.CounterValue, float64(ps.Evicted))
	ch <- prometheus.MustNewConstMetric(c.dhtRefused, prometheus.CounterValue, float64(c.n.dht.WritesRefused()))
	ch <- prometheus.MustNewConstMetric(c.dhtDisk, prometheus.GaugeValue, float64(c.n.dht.DiskBytes()))
	for p, v := range c.n.netsync.Misbehaviour() {
		ch <- prometheus.MustNewConstMetric(c.score, prometheus.GaugeValue, v, p.String())
	}
}
