package dht

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	leveldb "github.com/ipfs/go-ds-leveldb"
	kaddht "github.com/libp2p/go-libp2p-kad-dht"
	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p-kad-dht/records"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// DHT is one node's view of the myco Kademlia network. It is safe for
// concurrent use. New starts it; Close stops every goroutine it started and
// closes its datastore. The libp2p host belongs to the caller.
type DHT struct {
	cfg   Config
	host  host.Host
	kad   *kaddht.IpfsDHT
	msgr  *pb.ProtocolMessenger
	store *leveldb.Datastore
	provs *boundedProviders
	wb    *writeBudget
	set   *provideSet
	log   *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu            sync.Mutex
	closed        bool
	pending       map[cid.Cid]struct{} // roots waiting to be announced
	lastReprovide time.Time
	lastErr       error
}

// New opens the datastore in cfg.DataDir, starts a Kademlia DHT on h under
// the "/myco" prefix and starts the reprovider. It does not dial anyone:
// call Bootstrap for that.
func New(h host.Host, cfg Config) (*DHT, error) {
	if h == nil {
		return nil, fmt.Errorf("start dht: %w: no host", ErrBadConfig)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("start dht: %w", err)
	}
	// A 1 MiB write buffer (leveldb's default is 4 MiB, allocated up
	// front): provider records are small, and the daemon's memory is
	// budgeted (node/memory.go).
	store, err := leveldb.NewDatastore(cfg.DataDir, &leveldb.Options{WriteBuffer: 1 << 20})
	if err != nil {
		return nil, fmt.Errorf("start dht: open datastore %q: %w", cfg.DataDir, err)
	}

	provs, err := newBoundedProviders(context.Background(), store, cfg.MaxProviderRecordsPerPeer, cfg.MaxProviderRecords)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start dht: %w", err), store.Close())
	}
	wb := newWriteBudget(cfg)

	mode := kaddht.ModeAuto
	switch {
	case cfg.ForceServer:
		mode = kaddht.ModeServer
	case cfg.ForceClient:
		mode = kaddht.ModeClient
	}
	opts := []kaddht.Option{
		kaddht.ProtocolPrefix(ProtocolPrefix),
		kaddht.Mode(mode),
		kaddht.Datastore(store),
		kaddht.ProviderDatastore(provs),
		kaddht.OnRequestHook(wb.hook),
		kaddht.RoutingTableRefreshPeriod(cfg.RefreshInterval),
		kaddht.ProviderManagerOpts(
			records.ProvideValidity(cfg.ProvideValidity),
			records.CleanupInterval(min(time.Hour, cfg.ProvideValidity)),
		),
	}
	if len(cfg.BootstrapPeers) > 0 {
		opts = append(opts, kaddht.BootstrapPeers(cfg.BootstrapPeers...))
	}
	kad, err := kaddht.New(h, opts...)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start dht: %w", err), store.Close())
	}
	msgr, err := pb.NewProtocolMessenger(kad.MessageSender())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start dht: %w", err), kad.Close(), store.Close())
	}

	ctx, cancel := context.WithCancel(context.Background())
	d := &DHT{
		cfg:     cfg,
		host:    h,
		kad:     kad,
		msgr:    msgr,
		store:   store,
		provs:   provs,
		wb:      wb,
		set:     newProvideSet(store),
		log:     cfg.Logger,
		ctx:     ctx,
		cancel:  cancel,
		pending: make(map[cid.Cid]struct{}),
	}
	ticks := cfg.ReprovideTicks
	if ticks == nil {
		ticks = d.startSchedule(cfg.ReprovideDelay, cfg.ReprovideInterval)
	}
	d.wg.Go(func() { d.reprovideLoop(ticks) })
	d.log.Info("dht started", "id", h.ID(), "mode", d.Mode(), "protocol", ProtocolID,
		"bootstrap_peers", len(cfg.BootstrapPeers))
	return d, nil
}

// Close stops the reprovider and every lookup still running, then the DHT,
// then closes the datastore. Close the host afterwards. It is idempotent.
func (d *DHT) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()

	d.cancel()
	d.wg.Wait()
	var errs []error
	if err := d.kad.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close dht: %w", err))
	}
	if err := d.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close dht datastore: %w", err))
	}
	return errors.Join(errs...)
}

// enter admits a call into the DHT: it fails once Close has begun, and
// otherwise makes Close wait for the call, whose context also ends at
// Close. The caller defers the returned leave.
func (d *DHT) enter(ctx context.Context) (context.Context, func(), error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, nil, ErrClosed
	}
	d.wg.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(d.ctx, cancel)
	return ctx, func() { stop(); cancel(); d.wg.Done() }, nil
}

// ID is the local peer.
func (d *DHT) ID() peer.ID { return d.host.ID() }

// Mode reports "server" when the node answers DHT queries, "client" when it
// only asks. In auto mode the library switches by registering and removing
// its protocol handler on the host (its own Mode reports the option, not
// the current mode), so the handler is what tells.
func (d *DHT) Mode() string {
	if d.kad.Mode() == kaddht.ModeServer {
		return "server"
	}
	if slices.Contains(d.host.Mux().Protocols(), ProtocolID) {
		return "server"
	}
	return "client"
}

// Bootstrap dials every configured bootstrap peer in parallel, each bounded
// by BootstrapTimeout and ctx, then refreshes the routing table and waits
// for that refresh. The refresh runs even when some peers were unreachable;
// the error then names each of them (errors.Is ErrBootstrapUnreachable).
// When every dial fails the node keeps running, and the library retries the
// bootstrap peers whenever its routing table is empty.
func (d *DHT) Bootstrap(ctx context.Context) error {
	if len(d.cfg.BootstrapPeers) == 0 {
		return fmt.Errorf("bootstrap: %w", ErrNoBootstrapPeers)
	}
	ctx, leave, err := d.enter(ctx)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	defer leave()
	errs := make([]error, len(d.cfg.BootstrapPeers))
	var wg sync.WaitGroup
	for i, ai := range d.cfg.BootstrapPeers {
		if ai.ID == d.host.ID() {
			continue
		}
		wg.Go(func() {
			dctx, cancel := context.WithTimeout(ctx, d.cfg.BootstrapTimeout)
			defer cancel()
			if err := d.host.Connect(dctx, ai); err != nil {
				errs[i] = fmt.Errorf("%w: %s: %w", ErrBootstrapUnreachable, ai.ID, err)
				d.log.Warn("bootstrap peer unreachable", "peer", ai.ID, "err", err)
			}
		})
	}
	wg.Wait()
	dialErr := errors.Join(errs...)
	reached := 0
	for _, err := range errs {
		if err == nil {
			reached++
		}
	}
	if reached == 0 {
		return fmt.Errorf("bootstrap: %w", dialErr)
	}
	if err := d.awaitTable(ctx); err != nil {
		return fmt.Errorf("bootstrap: %w", errors.Join(dialErr, err))
	}
	if err := d.Refresh(ctx); err != nil {
		return fmt.Errorf("bootstrap: %w", errors.Join(dialErr, err))
	}
	if dialErr != nil {
		return fmt.Errorf("bootstrap: %w", dialErr)
	}
	return nil
}

// tablePoll is how often awaitTable looks at the routing table.
const tablePoll = 10 * time.Millisecond

// awaitTable waits, bounded by ctx and BootstrapTimeout, until the routing
// table holds a peer. A dialled peer enters the table only after identify
// and the library's liveness check, neither of which announces itself, so
// this looks at the table's size every tablePoll.
func (d *DHT) awaitTable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.BootstrapTimeout)
	defer cancel()
	tick := time.NewTicker(tablePoll)
	defer tick.Stop()
	for d.kad.RoutingTable().Size() == 0 {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("no bootstrap peer entered the routing table: %w", ctx.Err())
		}
	}
	return nil
}

// Refresh runs one routing-table refresh now, the same work the periodic
// refresh does every RefreshInterval, and waits for it.
func (d *DHT) Refresh(ctx context.Context) error {
	ctx, leave, err := d.enter(ctx)
	if err != nil {
		return fmt.Errorf("refresh routing table: %w", err)
	}
	defer leave()
	select {
	case err := <-d.kad.ForceRefresh():
		if err != nil {
			return fmt.Errorf("refresh routing table: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("refresh routing table: %w", ctx.Err())
	}
}

// ProviderStore reports the provider records stored for others, without
// entering the DHT (metrics read it at any time).
func (d *DHT) ProviderStore() ProviderStoreStats { return d.provs.stats() }

// WritesRefused counts DHT writes refused for being over their peer's budget.
func (d *DHT) WritesRefused() uint64 { return d.wb.refused.Load() }

// DiskBytes is the size of the files in Config.DataDir (0 in memory).
func (d *DHT) DiskBytes() int64 {
	if d.cfg.DataDir == "" {
		return 0
	}
	var n int64
	filepath.WalkDir(d.cfg.DataDir, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			if info, err := e.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// Peers lists the routing table.
func (d *DHT) Peers() []peer.ID {
	return d.kad.RoutingTable().ListPeers()
}

// Stats is a snapshot of the node's DHT state.
type Stats struct {
	Mode string `json:"mode"`
	// ProviderStore is what this node stores for others; WritesDelayed
	// and WritesRefused count DHT writes over a peer's budget.
	ProviderStore ProviderStoreStats `json:"provider_store"`
	WritesDelayed uint64             `json:"writes_delayed"`
	WritesRefused uint64             `json:"writes_refused"`
	// DiskBytes is the size of the DHT's leveldb (provider records, value
	// records, the provide set); 0 for an in-memory one.
	DiskBytes        int64     `json:"disk_bytes"`
	RoutingTableSize int       `json:"routing_table_size"`
	Roots            int       `json:"roots"`            // roots in the provide set
	ProvidesPending  int       `json:"provides_pending"` // roots not yet announced since they were added or the reprovide began
	LastReprovide    time.Time `json:"last_reprovide"`   // zero before the first one
	LastError        string    `json:"last_error,omitempty"`
}

// Stats reports the routing table size, the provide set and the reprovider.
func (d *DHT) Stats(ctx context.Context) (Stats, error) {
	ctx, leave, err := d.enter(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("dht stats: %w", err)
	}
	defer leave()
	roots, err := d.set.All(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	s := Stats{
		Mode:             d.Mode(),
		RoutingTableSize: d.kad.RoutingTable().Size(),
		Roots:            len(roots),
		ProvidesPending:  len(d.pending),
		LastReprovide:    d.lastReprovide,
		ProviderStore:    d.provs.stats(),
		WritesDelayed:    d.wb.delayed.Load(),
		WritesRefused:    d.wb.refused.Load(),
		DiskBytes:        d.DiskBytes(),
	}
	if d.lastErr != nil {
		s.LastError = d.lastErr.Error()
	}
	if err != nil {
		return s, fmt.Errorf("dht stats: %w", err)
	}
	return s, nil
}
