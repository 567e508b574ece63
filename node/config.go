package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/myco-p2p/myco/swarm"
)

// DefaultAPIAddr is where the HTTP API of a main node listens unless told
// otherwise.
const DefaultAPIAddr = "127.0.0.1:5040"

// DevAPIAddr is the API address of a dev node: a port the kernel picks, so
// that several dev daemons run side by side (the CLI finds it in the api
// file).
const DevAPIAddr = "127.0.0.1:0"

// DefaultPort is the libp2p port of a main-network node (TCP and QUIC).
const DefaultPort = 4040

// Config is the node's config.json. Every field has a sensible default, so an
// empty file is a valid configuration.
type Config struct {
	// Network is "main" or "dev".
	Network string `json:"network"`
	// Listen lists the libp2p multiaddrs to listen on.
	Listen []string `json:"listen"`
	// API is the host:port of the HTTP API.
	API string `json:"api"`
	// Gateway is the trustless gateway's listen address (host:port); ""
	// turns it off. Absent: DefaultGatewayAddr on main, a free port on
	// 127.0.0.1 on dev (see GatewayAddr).
	Gateway *string `json:"gateway,omitempty"`
	// GatewayFetch lets the gateway fetch from the swarm what the node
	// does not keep, before serving it.
	GatewayFetch bool `json:"gateway_fetch,omitempty"`
	// Bootstrap lists multiaddrs (with /p2p/ID) dialled at start.
	Bootstrap []string `json:"bootstrap"`
	// LogLevel is one of debug, info, warn, error.
	LogLevel string `json:"log_level"`
	// LogFile, when set, is where the daemon logs instead of stderr,
	// rotated by size (relative paths are inside the repo).
	LogFile string `json:"log_file,omitempty"`
	// Limits bounds what the node may use.
	Limits Limits `json:"limits"`
	// DHT chooses how the node takes part in the DHT.
	DHT DHTConfig `json:"dht"`
	// Relay configures circuit relay v2: the service this node offers and
	// the relays it reserves a slot on when it is not publicly reachable.
	Relay RelayConfig `json:"relay"`
	// Announce, when not empty, replaces the addresses the node tells peers
	// about (its relay addresses are kept), as kubo's Addresses.Announce.
	Announce []string `json:"announce,omitempty"`
	// NoAnnounce lists addresses never told to peers: a multiaddr matches
	// itself, /ip4/A/ipcidr/N or /ip6/A/ipcidr/N every address in the range.
	NoAnnounce []string `json:"no_announce,omitempty"`
	// Protect bounds what one peer may ask of this node (see ProtectConfig).
	Protect ProtectConfig `json:"protect,omitzero"`
	// Security chooses which secure channel a TCP connection offers
	// first: "tls" (TLS 1.3, the default: AES-GCM where the CPU has AES
	// instructions) or "noise" (Noise's ChaCha20-Poly1305, for machines
	// without them). Both are always offered; QUIC has TLS 1.3 built in.
	Security string `json:"security,omitempty"`
	// Channels sets how the node settles the payment channels that pay it
	// (see ChannelsConfig).
	Channels ChannelsConfig `json:"channels,omitzero"`
}

// Security transports of Config.Security.
const (
	SecurityTLS   = "tls"
	SecurityNoise = "noise"
)

// DHT modes of DHTConfig.Mode.
const (
	DHTModeAuto   = "auto"
	DHTModeServer = "server"
	DHTModeClient = "client"
)

// DHTConfig chooses how the node takes part in the DHT.
type DHTConfig struct {
	// Mode is "auto" (a server while AutoNAT finds the node publicly
	// reachable, a client otherwise), "server" or "client". Empty is the
	// network's default: auto on main, server on dev (on loopback AutoNAT
	// never finds a node public, and a network of clients finds nothing).
	Mode string `json:"mode,omitempty"`
}

// RelayConfig configures circuit relay v2.
type RelayConfig struct {
	// Service offers a relay to other peers while this node is publicly
	// reachable (libp2p starts it only then). Unset means on for main, off
	// for dev.
	Service *bool `json:"service,omitempty"`
	// Static lists relays (multiaddrs with /p2p/ID) this node reserves a
	// slot on while it is private; the bootstrap peers, and relays learned
	// from peers, are candidates after them.
	Static []string `json:"static,omitempty"`
	// MaxReservations bounds the peers holding a slot on our relay
	// (default 128); MaxCircuits the relayed connections per peer
	// (default 16).
	MaxReservations int `json:"max_reservations,omitempty"`
	MaxCircuits     int `json:"max_circuits,omitempty"`
	// CircuitData bounds the bytes one relayed connection carries each way
	// before the relay resets it (size with optional k/M/G suffix; default
	// 128k: enough for control messages and a hole punch, not for files;
	// with CarryData, 1024G).
	CircuitData string `json:"circuit_data,omitempty"`
	// CircuitDuration bounds a relayed connection's life (Go duration,
	// default 2m; with CarryData, 1h).
	CircuitDuration string `json:"circuit_duration,omitempty"`
	// CarryData lets this relay carry file data between peers that cannot
	// reach each other directly (both behind symmetric NATs): its circuits
	// then allow circuit_data bytes (default 1024G, where a peer treats a
	// circuit of at least 64 MiB as one for data) instead of 128k.
	CarryData bool `json:"carry_data,omitempty"`
	// CarryRate caps the bytes per second the relay forwards, all circuits
	// and both directions together, while CarryData is on (bytes per
	// second, as limits max_upload; default 1M; "0" means no cap).
	CarryRate string `json:"carry_rate,omitempty"`
}

// ServiceEnabled says whether the relay service is on for network netw.
func (r RelayConfig) ServiceEnabled(netw string) bool {
	if r.Service != nil {
		return *r.Service
	}
	return netw == "main"
}

// Limits bounds the node's use of the machine and the network.
type Limits struct {
	// MaxUpload and MaxDownload are rates in bytes per second with an
	// optional k/M/G suffix (powers of 1000; Ki/Mi/Gi for 1024); "" or "0"
	// means unlimited.
	MaxUpload   string `json:"max_upload"`
	MaxDownload string `json:"max_download"`
	// ConnLow and ConnHigh are the connection manager's water marks: above
	// ConnHigh connections it trims back down to ConnLow.
	ConnLow  int `json:"conn_low"`
	ConnHigh int `json:"conn_high"`
	// MaxMemory is what libp2p's resource manager may reserve in total
	// (bytes, optional k/M/G suffix).
	MaxMemory string `json:"max_memory"`
	// MaxFDs is the number of file descriptors libp2p may use.
	MaxFDs int `json:"max_fds"`
}

// DefaultConfig returns the configuration `myco init` writes for a network.
// The dev network listens on loopback only with ports picked by the kernel,
// so many dev nodes can run on one machine; main listens on all interfaces
// on DefaultPort, TCP and QUIC.
func DefaultConfig(network string) Config {
	c := Config{
		Network:   network,
		API:       DefaultAPIAddr,
		Bootstrap: []string{},
		LogLevel:  "info",
		Limits: Limits{
			ConnLow:   64,
			ConnHigh:  256,
			MaxMemory: "1G",
			MaxFDs:    1024,
		},
	}
	if network == "main" {
		on := true
		c.Relay.Service = &on
		c.Listen = []string{
			fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", DefaultPort),
			fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", DefaultPort),
			fmt.Sprintf("/ip6/::/tcp/%d", DefaultPort),
			fmt.Sprintf("/ip6/::/udp/%d/quic-v1", DefaultPort),
		}
	} else {
		c.API = DevAPIAddr
		c.Listen = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}
	}
	return c
}

// DefaultGatewayAddr is where main's trustless gateway listens unless the
// config says otherwise: localhost only.
const DefaultGatewayAddr = "127.0.0.1:8040"

// GatewayAddr is the gateway's listen address: the config's, else the
// network's default ("127.0.0.1:0", a free port, on dev, so several dev
// nodes run side by side). "" means off.
func (c Config) GatewayAddr() string {
	if c.Gateway != nil {
		return *c.Gateway
	}
	if c.Network == "main" {
		return DefaultGatewayAddr
	}
	return "127.0.0.1:0"
}

// maxConfigSize bounds config.json; a larger file is certainly not ours.
const maxConfigSize = 1 << 20

// LoadConfig reads and validates a config file.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	if st.Size() > maxConfigSize {
		return Config{}, fmt.Errorf("read config %s: %d bytes is larger than the %d allowed", path, st.Size(), maxConfigSize)
	}
	var c Config
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("parse config %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Save replaces the config file with this config as indented JSON, mode 0600.
func (c Config) Save(path string) error {
	b, err := c.encode()
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b, 0o600)
}

func (c Config) encode() ([]byte, error) {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return append(b, '\n'), nil
}

// Validate checks every field and says which one is wrong.
func (c Config) Validate() error {
	if c.Network != "main" && c.Network != "dev" {
		return fmt.Errorf("network %q: must be main or dev", c.Network)
	}
	for _, s := range c.Listen {
		if _, err := ma.NewMultiaddr(s); err != nil {
			return fmt.Errorf("listen address %q: %w", s, err)
		}
	}
	for _, s := range c.Bootstrap {
		if _, err := ParsePeerAddr(s); err != nil {
			return fmt.Errorf("bootstrap address: %w", err)
		}
	}
	if _, err := ParseLogLevel(c.LogLevel); err != nil {
		return err
	}
	if c.API != "" {
		if _, err := ParseAPIAddr(c.API); err != nil {
			return err
		}
	}
	if a := c.GatewayAddr(); a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("gateway address %q: %w", a, err)
		}
	}
	if _, err := parseLimit(c.Limits.MaxUpload); err != nil {
		return fmt.Errorf("max_upload: %w", err)
	}
	if _, err := parseLimit(c.Limits.MaxDownload); err != nil {
		return fmt.Errorf("max_download: %w", err)
	}
	if _, err := ParseSize(c.Limits.MaxMemory); err != nil {
		return fmt.Errorf("max_memory: %w", err)
	}
	if c.Limits.ConnLow < 0 || c.Limits.ConnHigh < c.Limits.ConnLow {
		return fmt.Errorf("conn_low %d and conn_high %d: need 0 <= conn_low <= conn_high", c.Limits.ConnLow, c.Limits.ConnHigh)
	}
	if c.Limits.MaxFDs < 0 {
		return fmt.Errorf("max_fds %d: must not be negative", c.Limits.MaxFDs)
	}
	switch c.Security {
	case "", SecurityTLS, SecurityNoise:
	default:
		return fmt.Errorf("security %q: must be tls or noise", c.Security)
	}
	switch c.DHT.Mode {
	case "", DHTModeAuto, DHTModeServer, DHTModeClient:
	default:
		return fmt.Errorf("dht mode %q: must be auto, server or client", c.DHT.Mode)
	}
	for _, s := range c.Relay.Static {
		if _, err := ParsePeerAddr(s); err != nil {
			return fmt.Errorf("relay static address: %w", err)
		}
	}
	if c.Relay.MaxReservations < 0 || c.Relay.MaxCircuits < 0 {
		return fmt.Errorf("relay max_reservations %d and max_circuits %d: must not be negative", c.Relay.MaxReservations, c.Relay.MaxCircuits)
	}
	if _, err := ParseSize(c.Relay.CircuitData); err != nil {
		return fmt.Errorf("relay circuit_data: %w", err)
	}
	if _, err := parseLimit(c.Relay.CarryRate); err != nil {
		return fmt.Errorf("relay carry_rate: %w", err)
	}
	if c.Relay.CircuitDuration != "" {
		if d, err := time.ParseDuration(c.Relay.CircuitDuration); err != nil || d <= 0 {
			return fmt.Errorf("relay circuit_duration %q: want a positive duration such as 2m", c.Relay.CircuitDuration)
		}
	}
	for _, s := range c.Announce {
		if _, err := ma.NewMultiaddr(s); err != nil {
			return fmt.Errorf("announce address %q: %w", s, err)
		}
	}
	if _, err := newAddrFilter(c.NoAnnounce); err != nil {
		return fmt.Errorf("no_announce: %w", err)
	}
	if err := c.Protect.validate(); err != nil {
		return fmt.Errorf("protect: %w", err)
	}
	if err := c.Channels.validate(); err != nil {
		return fmt.Errorf("channels: %w", err)
	}
	return nil
}

// parseLimit parses a rate limit: "" is none (0), else swarm.ParseRate.
func parseLimit(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	return swarm.ParseRate(s)
}

// ErrBadSize is returned for a size or rate that does not parse.
var ErrBadSize = errors.New("not a size: want a whole number of bytes with an optional k, M or G suffix")

// ParseSize parses "512", "64k", "20M", "1G" (powers of 1024). The empty
// string is 0.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	mult := int64(1)
	switch s[len(s)-1] {
	case 'k', 'K':
		mult = 1 << 10
	case 'm', 'M':
		mult = 1 << 20
	case 'g', 'G':
		mult = 1 << 30
	}
	num := s
	if mult != 1 {
		num = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q: %w", s, ErrBadSize)
	}
	return n * mult, nil
}
