package dht

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// ProtocolPrefix keeps myco's DHT a network of its own, apart from IPFS's
// Amino DHT: the protocol spoken is "/myco/kad/1.0.0".
const ProtocolPrefix protocol.ID = "/myco"

// ProtocolID is the Kademlia protocol that myco nodes speak and advertise.
const ProtocolID protocol.ID = ProtocolPrefix + "/kad/1.0.0"

// Defaults. Provider records live ProvideValidity on the nodes that store
// them; a root is announced again every ReprovideInterval, a quarter of that,
// so a record survives two missed reprovides.
const (
	DefaultProvideValidity      = 48 * time.Hour
	DefaultReprovideInterval    = 12 * time.Hour
	DefaultReprovideDelay       = time.Minute
	DefaultRefreshInterval      = 10 * time.Minute
	DefaultProvideTimeout       = time.Minute
	DefaultReprovideConcurrency = 4
	DefaultMaxDirectAsks        = 32
	DefaultBootstrapTimeout     = 15 * time.Second

	DefaultMaxProviderRecords        = 50_000
	DefaultMaxProviderRecordsPerPeer = 2_000
	DefaultWritesPerSecond           = 100
	DefaultWriteBurst                = 1_000
	// DefaultWriteMaxDelay: a peer with more than 20 writes waiting (at
	// 100 a second) is refused. An honest peer has one or two in flight.
	DefaultWriteMaxDelay = 200 * time.Millisecond
)

// Config says how a DHT runs. The zero value of every field except Host
// (given to New) means "use the default".
type Config struct {
	// DataDir is the leveldb directory that holds provider records stored
	// for others, value records and the set of roots to reprovide. Empty
	// keeps everything in an in-memory leveldb (tests and throwaway nodes).
	DataDir string

	// BootstrapPeers are dialled by Bootstrap; the library also falls back
	// to them whenever the routing table runs empty.
	BootstrapPeers []peer.AddrInfo

	// ForceServer makes the node answer DHT queries whatever its measured
	// reachability. The dev network and tests set it: on loopback AutoNAT
	// never reports the node public, so auto mode would leave every node a
	// client and nobody to ask. When false the mode is auto: server once
	// libp2p reports the node publicly reachable, client until then.
	ForceServer bool

	// ForceClient makes the node a DHT client whatever its reachability:
	// it asks but never answers. ForceServer wins when both are set.
	ForceClient bool

	// RefreshInterval is how often the routing table's buckets are
	// refreshed with lookups for random keys in them.
	RefreshInterval time.Duration

	// ProvideValidity is how long this node keeps a provider record that
	// another node stored with it. Records age out after it.
	ProvideValidity time.Duration

	// ReprovideInterval is how often every root in the provide set is
	// announced again. It must be at most half of ProvideValidity.
	ReprovideInterval time.Duration

	// ReprovideDelay is how long after New the first reprovide runs, so
	// records that expired while the node was down come back soon.
	ReprovideDelay time.Duration

	// ReprovideTicks, when set, replaces the ReprovideDelay/ReprovideInterval
	// schedule: every value received starts one reprovide of the whole set.
	// Tests inject it to drive reprovides without waiting.
	ReprovideTicks <-chan time.Time

	// OnReprovide, when set, is called after every scheduled reprovide
	// with its report and error (metrics, logs, tests waiting for one).
	OnReprovide func(ReprovideReport, error)

	// ReprovideConcurrency bounds how many roots are announced at once
	// during a reprovide.
	ReprovideConcurrency int

	// ProvideTimeout bounds the announcement of one root.
	ProvideTimeout time.Duration

	// MaxDirectAsks bounds how many already-connected peers FindProviders
	// asks directly, besides the iterative lookup.
	MaxDirectAsks int

	// BootstrapTimeout bounds each dial made by Bootstrap.
	BootstrapTimeout time.Duration

	// MaxProviderRecords bounds the provider records this node stores for
	// others, MaxProviderRecordsPerPeer those of one providing peer
	// [50,000 and 2,000]. Past a peer's cap its least recently written
	// record makes room; past the total, anyone's.
	MaxProviderRecords        int
	MaxProviderRecordsPerPeer int

	// WritesPerSecond and WriteBurst are each peer's budget of DHT writes
	// (ADD_PROVIDER, PUT_VALUE) [100, 1000]. A write over it waits up to
	// WriteMaxDelay [200 ms] for its token, then is refused: nothing is
	// stored, the stream is reset and OnWriteRefused is called.
	WritesPerSecond float64
	WriteBurst      float64
	WriteMaxDelay   time.Duration
	OnWriteRefused  func(peer.ID)

	// Now is the clock used to stamp reprovides and to refill the write
	// budgets; nil means time.Now.
	Now func() time.Time

	// Logger receives the subsystem's logs; nil discards them.
	Logger *slog.Logger
}

// withDefaults returns c with every unset field filled in, or an error
// saying which setting is unusable.
func (c Config) withDefaults() (Config, error) {
	if c.ProvideValidity == 0 {
		c.ProvideValidity = DefaultProvideValidity
	}
	if c.ReprovideInterval == 0 {
		c.ReprovideInterval = min(DefaultReprovideInterval, c.ProvideValidity/2)
	}
	if c.ReprovideDelay == 0 {
		c.ReprovideDelay = DefaultReprovideDelay
	}
	if c.RefreshInterval == 0 {
		c.RefreshInterval = DefaultRefreshInterval
	}
	if c.ReprovideConcurrency == 0 {
		c.ReprovideConcurrency = DefaultReprovideConcurrency
	}
	if c.ProvideTimeout == 0 {
		c.ProvideTimeout = DefaultProvideTimeout
	}
	if c.MaxDirectAsks == 0 {
		c.MaxDirectAsks = DefaultMaxDirectAsks
	}
	if c.BootstrapTimeout == 0 {
		c.BootstrapTimeout = DefaultBootstrapTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxProviderRecords <= 0 {
		c.MaxProviderRecords = DefaultMaxProviderRecords
	}
	if c.MaxProviderRecordsPerPeer <= 0 {
		c.MaxProviderRecordsPerPeer = DefaultMaxProviderRecordsPerPeer
	}
	if c.WritesPerSecond <= 0 {
		c.WritesPerSecond = DefaultWritesPerSecond
	}
	if c.WriteBurst <= 0 {
		c.WriteBurst = DefaultWriteBurst
	}
	if c.WriteMaxDelay <= 0 {
		c.WriteMaxDelay = DefaultWriteMaxDelay
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}

	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"provide validity", c.ProvideValidity},
		{"reprovide interval", c.ReprovideInterval},
		{"reprovide delay", c.ReprovideDelay},
		{"refresh interval", c.RefreshInterval},
		{"provide timeout", c.ProvideTimeout},
		{"bootstrap timeout", c.BootstrapTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %v is negative", d.name, d.v))
		}
	}
	// A reprovide must land well inside the record lifetime, or records
	// vanish between two announcements.
	if c.ReprovideInterval > c.ProvideValidity/2 {
		errs = append(errs, fmt.Errorf("reprovide interval %v exceeds half the provide validity %v",
			c.ReprovideInterval, c.ProvideValidity))
	}
	if c.ReprovideConcurrency < 0 {
		errs = append(errs, fmt.Errorf("reprovide concurrency %d is negative", c.ReprovideConcurrency))
	}
	if c.MaxDirectAsks < 0 {
		errs = append(errs, fmt.Errorf("max direct asks %d is negative", c.MaxDirectAsks))
	}
	for _, ai := range c.BootstrapPeers {
		if err := ai.ID.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("bootstrap peer: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	return c, nil
}
