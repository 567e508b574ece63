package node

import (
	"context"

	"github.com/ipfs/go-cid"

	"github.com/myco-p2p/myco/chunker"
	mycodht "github.com/myco-p2p/myco/dht"
	"github.com/myco-p2p/myco/internal/service"
	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/swarm"
)

// What the CLI needs of the packages the node composes, so that cmd/myco
// imports node alone: aliases of their types and thin wrappers of their
// functions. Each rule still lives with its type; these only name it here.

// ParseCID parses a CID typed by a user and says in words what is wrong
// with one that is not (chunker.ParseCID). Errors wrap
// chunker.ErrMalformedCID.
func ParseCID(s string) (cid.Cid, error) { return chunker.ParseCID(s) }

// DHTStats is the DHT's state, as GET /api/v0/dht/stat answers it.
type DHTStats = mycodht.Stats

// SwarmPeerInfo is one peer's exchange accounting, as GET
// /api/v0/swarm/stats answers it.
type SwarmPeerInfo = swarm.PeerInfo

// ParseRate parses a rate in bytes per second ("20M", "512k", "0" for
// unlimited), as swarm.ParseRate does.
func ParseRate(s string) (int64, error) { return swarm.ParseRate(s) }

// FormatRate formats bytes per second the way ParseRate reads them.
func FormatRate(rate int64) string { return swarm.FormatRate(rate) }

// ParseAmount parses an amount in base units, as ledger.ParseAmount does.
func ParseAmount(s string) (uint64, error) { return ledger.ParseAmount(s) }

// FormatCoins shows base units as coins with 8 decimals.
func FormatCoins(v uint64) string { return ledger.FormatCoins(v) }

// CheckName reports why name cannot be a name on the chain (the ledger's
// rule, ledger.CheckName).
func CheckName(name string) error { return ledger.CheckName(name) }

// ServiceSpec is what the daemon run as a service of the current user
// runs (internal/service).
type ServiceSpec = service.Spec

// ServiceManager installs, starts, stops and removes that service.
type ServiceManager = service.Manager

// NewServiceManager returns this system's service manager for spec.
func NewServiceManager(spec ServiceSpec) (ServiceManager, error) { return service.New(spec) }

// RunUnderServiceManager runs run as the Windows service when the service
// manager started this process (its stop request ends run's context), and
// elsewhere simply calls run(ctx).
func RunUnderServiceManager(ctx context.Context, run func(context.Context) error) error {
	return service.RunDaemon(ctx, run)
}
