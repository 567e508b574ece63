package ledger

import (
	"fmt"
	"math/big"
	"time"
)

// Network names a parameter set: each network has its own genesis block,
// address prefix, chain id and difficulty, so the chains never mix.
type Network string

const (
	// NetworkMain is the public network: 60 s blocks.
	NetworkMain Network = "main"
	// NetworkDev is for local testnets and tests: 1 s blocks and a genesis
	// difficulty that one thread mines in milliseconds.
	NetworkDev Network = "dev"
)

// ParseNetwork returns the network called s, or an error naming the known ones.
func ParseNetwork(s string) (Network, error) {
	switch Network(s) {
	case NetworkMain, NetworkDev:
		return Network(s), nil
	}
	return "", fmt.Errorf("unknown network %q (known: %s, %s)", s, NetworkMain, NetworkDev)
}

// String returns the network's name.
func (n Network) String() string { return string(n) }

// Coin is the number of base units in one coin; amounts on the wire and in
// the API are base units.
const Coin uint64 = 100_000_000

// Params are the consensus parameters of one network. Params returns a fresh
// copy on each call; tests may change a copy (for example the block interval)
// without affecting anyone else.
type Params struct {
	// Name is the network these parameters belong to.
	Name Network
	// HRP is the bech32 human-readable prefix of addresses ("myco" on main).
	HRP string
	// ChainID is in every transaction's signed bytes, so a transaction
	// signed for one network is invalid on every other.
	ChainID uint32

	// BlockInterval is the target time between blocks.
	BlockInterval time.Duration
	// ASERTHalfLife is how long blocks must be late (or early) for the
	// difficulty to halve (or double).
	ASERTHalfLife time.Duration
	// MaxFutureDrift is how far ahead of the receiver's clock a block's
	// timestamp may be.
	MaxFutureDrift time.Duration
	// MedianTimeBlocks is how many previous blocks the median time covers.
	MedianTimeBlocks int

	// PowLimit is the easiest target allowed; PowLimitBits is its compact form.
	PowLimit     *big.Int
	PowLimitBits uint32

	// GenesisTime (Unix milliseconds), GenesisBits and GenesisNonce fix the
	// genesis header (see Genesis).
	GenesisTime  int64
	GenesisBits  uint32
	GenesisNonce uint64
	// GenesisMessage is the genesis coinbase payload.
	GenesisMessage string

	// InitialSubsidy is the coinbase subsidy of the first era in base units;
	// it halves every HalvingInterval blocks.
	InitialSubsidy  uint64
	HalvingInterval uint64

	// MaxBlockSize bounds a block's encoding in bytes, MaxBlockTxs its
	// transaction count and MaxPayload a transaction's payload.
	MaxBlockSize int
	MaxBlockTxs  int
	MaxPayload   int

	// NameCommitDepth is how many blocks a name commitment must be below
	// the block that claims the name (see the package doc on front-running).
	NameCommitDepth uint64
}

// Params returns the consensus parameters of n; it panics on a Network that
// did not come from ParseNetwork or the constants (a programming error).
func (n Network) Params() *Params {
	switch n {
	case NetworkMain:
		return &Params{
			Name:             NetworkMain,
			HRP:              "myco",
			ChainID:          0x6d79636f, // "myco"
			BlockInterval:    60 * time.Second,
			ASERTHalfLife:    2 * time.Hour,
			MaxFutureDrift:   5 * time.Minute,
			MedianTimeBlocks: 11,
			PowLimit:         CompactToBig(0x1e0fffff),
			PowLimitBits:     0x1e0fffff,
			GenesisTime:      1767225600000, // 2026-01-01T00:00:00Z
			GenesisBits:      0x1e0fffff,
			GenesisNonce:     mainGenesisNonce,
			GenesisMessage:   "myco main genesis: files and a ledger, peer to peer",
			InitialSubsidy:   50 * Coin,
			HalvingInterval:  2_100_000, // about four years of 60 s blocks
			MaxBlockSize:     1 << 20,
			MaxBlockTxs:      1 << 20 / TxFixedSize,
			MaxPayload:       1024,
			NameCommitDepth:  6,
		}
	case NetworkDev:
		return &Params{
			Name:             NetworkDev,
			HRP:              "mycod",
			ChainID:          0x6d796364, // "mycd"
			BlockInterval:    time.Second,
			ASERTHalfLife:    20 * time.Second,
			MaxFutureDrift:   10 * time.Second,
			MedianTimeBlocks: 11,
			PowLimit:         CompactToBig(0x207fffff),
			PowLimitBits:     0x207fffff,
			GenesisTime:      1767225600000,
			GenesisBits:      0x1f0fffff, // about 4096 hashes per block
			GenesisNonce:     devGenesisNonce,
			GenesisMessage:   "myco dev genesis",
			InitialSubsidy:   50 * Coin,
			HalvingInterval:  10_000,
			MaxBlockSize:     1 << 20,
			MaxBlockTxs:      1 << 20 / TxFixedSize,
			MaxPayload:       1024,
			NameCommitDepth:  2,
		}
	}
	panic(fmt.Sprintf("ledger: unknown network %q", string(n)))
}

// Subsidy returns the coinbase subsidy of a block at height: InitialSubsidy
// halved once per completed HalvingInterval, zero after 64 halvings.
func (p *Params) Subsidy(height uint64) uint64 {
	halvings := height / p.HalvingInterval
	if halvings >= 64 {
		return 0
	}
	return p.InitialSubsidy >> halvings
}

// TxFixedSize is the encoded size of a transaction with an empty payload.
const TxFixedSize = 4 + 1 + 32 + 8 + AddressSize + 8 + 8 + 2 + 64
