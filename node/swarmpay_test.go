package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"

	"github.com/myco-p2p/myco/chunker"
	"github.com/myco-p2p/myco/ledger"
	"github.com/myco-p2p/myco/swarm"
)

// payNet is mocknet swarms over one in-memory dev chain (channelWorld),
// which every node reads as a perfectly synced network would.
type payNet struct {
	t      *testing.T
	w      *channelWorld
	mineMu sync.Mutex
	mn     mocknet.Mocknet
	mu     sync.Mutex
	provs  map[cid.Cid][]peer.AddrInfo
}

func newPayNet(t *testing.T) *payNet {
	mn := mocknet.New()
	t.Cleanup(func() { mn.Close() })
	return &payNet{t: t, w: newChannelWorld(t), mn: mn, provs: map[cid.Cid][]peer.AddrInfo{}}
}

// mine mines one block paying to, with the mempool's transactions.
func (n *payNet) mine(to ledger.Address) {
	n.mineMu.Lock()
	defer n.mineMu.Unlock()
	n.w.mine(to)
}

func (n *payNet) find(_ context.Context, c cid.Cid, _ int) (<-chan peer.AddrInfo, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ch := make(chan peer.AddrInfo, len(n.provs[c]))
	for _, p := range n.provs[c] {
		ch <- p
	}
	close(ch)
	return ch, nil
}

// node starts a swarm on a new mocknet host with its own store, linked
// to the nodes in linkTo only.
func (n *payNet) node(cfg swarm.Config, linkTo ...peer.AddrInfo) (*swarm.Service, *chunker.Store, peer.AddrInfo) {
	t := n.t
	h, err := n.mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range linkTo {
		if _, err := n.mn.LinkPeers(h.ID(), o.ID); err != nil {
			t.Fatal(err)
		}
	}
	store, err := chunker.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cfg.FindProviders = n.find
	cfg.Provide = func(_ context.Context, c cid.Cid) error {
		n.mu.Lock()
		defer n.mu.Unlock()
		n.provs[c] = append(n.provs[c], peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()})
		return nil
	}
	svc, err := swarm.New(h, store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc, store, peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}
}

// TestPricedSeederPaidForWhatItDelivers: a seeder capped in upload and
// priced, a leecher that pays and a free-rider start together. The payer
// holds a regular slot and finishes first; the free-rider gets the
// optimistic slot's share. After the payee closes the channel, its balance
// grew by exactly the price of the leaves it delivered to the payer, and
// the payer got the rest of its deposit back.
func TestPricedSeederPaidForWhatItDelivers(t *testing.T) {
	const (
		price    = 1000 // base units per MiB
		size     = 16 << 20
		upCap    = 16 << 20 // the seeder's upload cap, bytes/s
		budget   = 100_000  // the payer's budget: 100 MiB's worth
		chunk    = 256 << 10
		life     = 100
		stepCost = 4 * price // payStep (4 MiB) at price
	)
	pn := newPayNet(t)
	w := pn.w
	payeeMgr, payeeStore := w.manager(w.payeeKey, w.payeeDir)
	defer payeeStore.Close()
	payerMgr, payerStore := w.manager(w.payerKey, w.payerDir)
	defer payerStore.Close()
	// The payer's opening is mined as soon as it is submitted.
	payerMgr.submit = func(tx *ledger.Tx) (ledger.Hash, error) {
		id, err := w.chain.AddTx(tx)
		if err == nil {
			pn.mine(ledger.Address{})
		}
		return id, err
	}
	pn.mine(w.payer) // funds the payer
	payerStart := w.balance(w.payer)

	accepted := make(chan struct{}, 1)
	seeder, seedStore, seedInfo := pn.node(swarm.Config{
		MaxUpload: upCap,
		Price:     price, PayTo: w.payee[:],
		AcceptPayment: func(from peer.ID, v []byte) (uint64, error) {
			added, err := payeeMgr.acceptPayment(from, v)
			select {
			case accepted <- struct{}{}:
			default:
			}
			return added, err
		},
	})
	// The two leechers reach the seeder only: the free-rider gets
	// nothing but what the seeder gives it.
	payer, _, _ := pn.node(swarm.Config{
		Pay: func(ctx context.Context, req swarm.PayRequest) ([]byte, error) {
			return payerMgr.payPeer(ctx, req, life)
		},
	}, seedInfo)
	freeRider, _, _ := pn.node(swarm.Config{}, seedInfo)

	data := make([]byte, size)
	rand.Read(data)
	src := filepath.Join(t.TempDir(), "film.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ri, err := seedStore.AddPath(context.Background(), src, chunker.Params{ChunkSize: chunk, MaxLinks: 8})
	if err != nil {
		t.Fatal(err)
	}
	root := ri.Cid
	pn.provs[root] = []peer.AddrInfo{seedInfo}

	start := time.Now()
	type result struct {
		who  string
		took time.Duration
		err  error
	}
	done := make(chan result, 2)
	fetch := func(who string, svc *swarm.Service, payMax uint64) *swarm.Download {
		dest := filepath.Join(t.TempDir(), who+".bin")
		dl, err := svc.Fetch(context.Background(), root, dest, swarm.FetchOptions{PayMax: payMax})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			_, err := dl.Wait(ctx)
			if err == nil {
				got, rerr := os.ReadFile(dest)
				if rerr != nil || !bytes.Equal(got, data) {
					err = errWrongContent
				}
			}
			done <- result{who, time.Since(start), err}
		}()
		return dl
	}
	payDl := fetch("payer", payer, budget)
	fetch("free-rider", freeRider, 0)
	first := <-done
	second := <-done
	for _, r := range []result{first, second} {
		if r.err != nil {
			t.Fatalf("%s: %v; payer %+v; seeder %+v %+v", r.who, r.err, payDl.Progress(), seeder.Earnings(), seeder.Stats())
		}
	}
	if first.who != "payer" {
		t.Fatalf("the %s finished first (%v), the %s after %v: the paying leecher should", first.who, first.took, second.who, second.took)
	}
	t.Logf("payer done in %v, free-rider in %v: %.2fx", first.took, second.took, second.took.Seconds()/first.took.Seconds())

	// The payer pays for its last leaves before it closes its stream;
	// the seeder keeps that voucher before it reads on.
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	var earned swarm.Earnings
wait:
	for {
		earned = seeder.Earnings()
		if earned.Paid >= costOfBytes(earned.Charged, price) {
			break
		}
		select {
		case <-accepted:
		case <-deadline.C:
			break wait
		}
	}
	paid := payDl.Progress().Paid
	owed := costOfBytes(earned.Charged, price)
	t.Logf("seeder charged %d bytes (%d base units), was paid %d; the fetch paid %d", earned.Charged, owed, earned.Paid, paid)
	if earned.Charged < size {
		t.Fatalf("seeder charged the payer for %d bytes of leaves, the file has %d", earned.Charged, size)
	}
	if earned.Paid != paid || owed-earned.Paid > stepCost {
		t.Fatalf("seeder was paid %d for leaves worth %d; the payer paid %d", earned.Paid, owed, paid)
	}

	// The payee closes with the highest voucher it accepted.
	pays, _, err := w.chain.ChannelsOf(w.payer)
	if err != nil || len(pays) != 1 {
		t.Fatalf("payer's channels: %v %v", pays, err)
	}
	ch := pays[0]
	payeeBefore := w.balance(w.payee)
	if _, v, err := payeeMgr.Close(ch.ID, 0); err != nil || v.Amount != paid {
		t.Fatalf("close: voucher %d, err %v; want %d", v.Amount, err, paid)
	}
	pn.mine(ledger.Address{})
	if got := w.balance(w.payee) - payeeBefore; got != paid {
		t.Fatalf("payee's balance grew by %d, want %d", got, paid)
	}
	if got, want := w.balance(w.payer), payerStart-paid; got != want {
		t.Fatalf("payer's balance %d after the close, want %d (what it had less what it paid)", got, want)
	}
	if ch.Deposit != budget {
		t.Fatalf("the channel's deposit is %d, want the fetch's budget %d", ch.Deposit, budget)
	}
}

var errWrongContent = errorString("downloaded content differs")

type errorString string

func (e errorString) Error() string { return string(e) }

// costOfBytes is n bytes at price per MiB, rounded up (the swarm's rule).
func costOfBytes(n int64, price uint64) uint64 { return (uint64(n)*price + 1<<20 - 1) >> 20 }
