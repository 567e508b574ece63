package node

import (
	"errors"
	"fmt"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/util"

	"github.com/myco-p2p/myco/ledger"
)

// VoucherDir is the leveldb database, inside the repo, that keeps the
// node's highest voucher per payment channel.
const VoucherDir = "vouchers"

// Voucher roles: the first byte of a voucher store key.
const (
	roleIssued   = 'i' // i channel id -> the highest voucher this node signed as payer
	roleAccepted = 'a' // a channel id -> the highest voucher this node accepted as payee
)

// voucherStore keeps, per channel, the highest voucher the node issued as
// payer and the highest it accepted as payee, each written with a synced
// leveldb write (the journal is fsynced before put returns), so what was
// put survives a crash the moment put returns. It holds no lock of its
// own: ChannelManager serialises the read-compare-write of each role.
type voucherStore struct {
	db *leveldb.DB
}

// voucherWriteBuffer is the voucher store's memtable and block cache:
// goleveldb allocates the memtable whole when it opens (4 MiB by default,
// which the garbage collector counts as live heap when it paces itself),
// for records of a few dozen bytes per channel.
const voucherWriteBuffer = 64 << 10

func openVoucherStore(dir string) (*voucherStore, error) {
	db, err := leveldb.OpenFile(dir, &opt.Options{WriteBuffer: voucherWriteBuffer, BlockCacheCapacity: voucherWriteBuffer})
	if err != nil {
		return nil, fmt.Errorf("open voucher store %s: %w", dir, err)
	}
	return &voucherStore{db: db}, nil
}

func (s *voucherStore) Close() error { return s.db.Close() }

func voucherKey(role byte, ch ledger.Hash) []byte {
	return append([]byte{role}, ch[:]...)
}

// get returns the stored voucher of a role in channel ch, and false when
// there is none.
func (s *voucherStore) get(role byte, ch ledger.Hash) (ledger.Voucher, bool, error) {
	b, err := s.db.Get(voucherKey(role, ch), nil)
	if errors.Is(err, leveldb.ErrNotFound) {
		return ledger.Voucher{}, false, nil
	}
	if err != nil {
		return ledger.Voucher{}, false, fmt.Errorf("read voucher of channel %s: %w", ch, err)
	}
	v, err := ledger.DecodeVoucher(b)
	if err != nil {
		return ledger.Voucher{}, false, fmt.Errorf("read voucher of channel %s: %w", ch, err)
	}
	return v, true, nil
}

// amount returns the stored voucher's amount of a role in ch, 0 if none.
func (s *voucherStore) amount(role byte, ch ledger.Hash) (uint64, error) {
	v, _, err := s.get(role, ch)
	return v.Amount, err
}

// put durably replaces the voucher of a role in v's channel.
func (s *voucherStore) put(role byte, v ledger.Voucher) error {
	if err := s.db.Put(voucherKey(role, v.Channel), v.Encode(), &opt.WriteOptions{Sync: true}); err != nil {
		return fmt.Errorf("store voucher of channel %s: %w", v.Channel, err)
	}
	return nil
}

// all returns every stored voucher of a role, in channel id order.
func (s *voucherStore) all(role byte) ([]ledger.Voucher, error) {
	it := s.db.NewIterator(util.BytesPrefix([]byte{role}), nil)
	defer it.Release()
	var out []ledger.Voucher
	for it.Next() {
		v, err := ledger.DecodeVoucher(it.Value())
		if err != nil {
			return nil, fmt.Errorf("read voucher %x: %w", it.Key(), err)
		}
		out = append(out, v)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("list vouchers: %w", err)
	}
	return out, nil
}
