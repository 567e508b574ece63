package ledger

import (
	"encoding/binary"
	"fmt"
)

// Account is the state of one address: its balance in base units and the
// nonce its next transaction must carry (the number it has sent).
type Account struct {
	Balance uint64
	Nonce   uint64
}

// IsZero reports whether the account is empty; empty accounts are not stored.
func (a Account) IsZero() bool { return a == Account{} }

const accountSize = 16

func (a Account) encode() []byte {
	b := make([]byte, accountSize)
	binary.LittleEndian.PutUint64(b[0:8], a.Balance)
	binary.LittleEndian.PutUint64(b[8:16], a.Nonce)
	return b
}

func decodeAccount(b []byte) (Account, error) {
	if len(b) != accountSize {
		return Account{}, fmt.Errorf("decode account: %d bytes, want %d", len(b), accountSize)
	}
	return Account{
		Balance: binary.LittleEndian.Uint64(b[0:8]),
		Nonce:   binary.LittleEndian.Uint64(b[8:16]),
	}, nil
}

// stateReader reads committed or overlaid state: accounts and the anchor
// indexes (name records, first anchors of CIDs, name commitments), which
// are plain key-value entries of the store.
type stateReader interface {
	account(a Address) (Account, error)
	// indexValue returns the value of an index key, or ok false if absent.
	indexValue(k string) (v []byte, ok bool, err error)
}

// indexSlot is an index entry in a view: a value, or absent (deleted).
type indexSlot struct {
	val     []byte
	present bool
}

// view is a copy-on-write overlay of the state: writes stay in the overlay
// until someone commits them, so a block (or a whole reorganisation) is
// validated without touching the store.
type view struct {
	base    stateReader
	changed map[Address]Account
	order   []Address // first-touch order, for deterministic undo records
	idx     map[string]indexSlot
	idxKeys []string // first-touch order of index keys
}

func newView(base stateReader) *view {
	return &view{base: base, changed: make(map[Address]Account), idx: make(map[string]indexSlot)}
}

func (v *view) account(a Address) (Account, error) {
	if acc, ok := v.changed[a]; ok {
		return acc, nil
	}
	return v.base.account(a)
}

func (v *view) set(a Address, acc Account) {
	if _, ok := v.changed[a]; !ok {
		v.order = append(v.order, a)
	}
	v.changed[a] = acc
}

func (v *view) indexValue(k string) ([]byte, bool, error) {
	if s, ok := v.idx[k]; ok {
		return s.val, s.present, nil
	}
	return v.base.indexValue(k)
}

// setIndex puts (present) or deletes an index entry in the overlay.
func (v *view) setIndex(k string, val []byte, present bool) {
	if _, ok := v.idx[k]; !ok {
		v.idxKeys = append(v.idxKeys, k)
	}
	v.idx[k] = indexSlot{val: val, present: present}
}

// mergeInto copies v's changes into parent.
func (v *view) mergeInto(parent *view) {
	for _, a := range v.order {
		parent.set(a, v.changed[a])
	}
	for _, k := range v.idxKeys {
		s := v.idx[k]
		parent.setIndex(k, s.val, s.present)
	}
}

// writeTo adds v's changes to a store batch.
func (v *view) writeTo(b *Batch) {
	for _, a := range v.order {
		putAccount(b, a, v.changed[a])
	}
	for _, k := range v.idxKeys {
		putIndex(b, k, v.idx[k])
	}
}

func putIndex(b *Batch, k string, s indexSlot) {
	if s.present {
		b.Put([]byte(k), s.val)
	} else {
		b.Del([]byte(k))
	}
}

// undoFor records, for every account and index entry that v changed, its
// value in prior (the state v was built on).
func (v *view) undoFor(prior stateReader) (undoRecord, error) {
	u := undoRecord{accounts: make([]undoEntry, 0, len(v.order))}
	for _, a := range v.order {
		acc, err := prior.account(a)
		if err != nil {
			return undoRecord{}, err
		}
		u.accounts = append(u.accounts, undoEntry{Addr: a, Account: acc})
	}
	for _, k := range v.idxKeys {
		val, ok, err := prior.indexValue(k)
		if err != nil {
			return undoRecord{}, err
		}
		u.index = append(u.index, indexUndo{key: k, slot: indexSlot{val: val, present: ok}})
	}
	return u, nil
}

// undoEntry is an account's state before a block touched it.
type undoEntry struct {
	Addr    Address
	Account Account
}

// indexUndo is an index entry's value (or absence) before a block changed it.
type indexUndo struct {
	key  string
	slot indexSlot
}

// undoRecord holds, for one connected block, the prior state of every
// account and index entry it touched; disconnecting the block writes them
// back.
type undoRecord struct {
	accounts []undoEntry
	index    []indexUndo
}

// applyTo writes the prior values into v (rewinding an overlay).
func (u undoRecord) applyTo(v *view) {
	for _, e := range u.accounts {
		v.set(e.Addr, e.Account)
	}
	for _, e := range u.index {
		v.setIndex(e.key, e.slot.val, e.slot.present)
	}
}

// writeTo adds the prior values to a store batch (disconnecting a block).
func (u undoRecord) writeTo(b *Batch) {
	for _, e := range u.accounts {
		putAccount(b, e.Addr, e.Account)
	}
	for _, e := range u.index {
		putIndex(b, e.key, e.slot)
	}
}

const undoEntrySize = AddressSize + accountSize

// Index undo entries are bounded: a key is a prefix byte and at most 255
// bytes of CID, a value at most maxIndexValue bytes.
const (
	maxIndexKey   = 1 + 255
	maxIndexValue = 1024
)

// encode lays out the record as: account count (uint32), the accounts
// (address, account), then index count (uint32) and per entry key length
// (uint16), key, present (byte), value length (uint16), value. A record
// with no index entries ends after the accounts (the format before anchors
// had indexes, which still decodes).
func (u undoRecord) encode() []byte {
	b := make([]byte, 0, 8+len(u.accounts)*undoEntrySize)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(u.accounts)))
	for _, e := range u.accounts {
		b = append(b, e.Addr[:]...)
		b = append(b, e.Account.encode()...)
	}
	if len(u.index) == 0 {
		return b
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(u.index)))
	for _, e := range u.index {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(e.key)))
		b = append(b, e.key...)
		if e.slot.present {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		b = binary.LittleEndian.AppendUint16(b, uint16(len(e.slot.val)))
		b = append(b, e.slot.val...)
	}
	return b
}

func decodeUndo(b []byte) (undoRecord, error) {
	var u undoRecord
	if len(b) < 4 {
		return u, fmt.Errorf("decode undo record: %d bytes", len(b))
	}
	n := binary.LittleEndian.Uint32(b)
	b = b[4:]
	// The account count is checked against the bytes left before allocating.
	if uint64(len(b)) < uint64(n)*undoEntrySize {
		return u, fmt.Errorf("decode undo record: %d accounts in %d bytes", n, len(b))
	}
	u.accounts = make([]undoEntry, n)
	for i := range u.accounts {
		copy(u.accounts[i].Addr[:], b[:AddressSize])
		acc, _ := decodeAccount(b[AddressSize:undoEntrySize])
		u.accounts[i].Account = acc
		b = b[undoEntrySize:]
	}
	if len(b) == 0 {
		return u, nil
	}
	r := reader{b: b}
	cnt, err := r.take(4, "undo index count")
	if err != nil {
		return undoRecord{}, fmt.Errorf("decode undo record: %w", err)
	}
	m := binary.LittleEndian.Uint32(cnt)
	// Each index entry takes at least 6 bytes: the count must fit what is left.
	if m == 0 || uint64(m)*6 > uint64(len(r.b)) {
		return undoRecord{}, fmt.Errorf("decode undo record: %d index entries in %d bytes", m, len(r.b))
	}
	u.index = make([]indexUndo, m)
	for i := range u.index {
		kl, err := r.take(2, "undo index key length")
		if err != nil {
			return undoRecord{}, fmt.Errorf("decode undo record: %w", err)
		}
		klen := int(binary.LittleEndian.Uint16(kl))
		if klen == 0 || klen > maxIndexKey {
			return undoRecord{}, fmt.Errorf("decode undo record: index key of %d bytes", klen)
		}
		k, err := r.take(klen, "undo index key")
		if err != nil {
			return undoRecord{}, fmt.Errorf("decode undo record: %w", err)
		}
		pv, err := r.take(3, "undo index value header")
		if err != nil {
			return undoRecord{}, fmt.Errorf("decode undo record: %w", err)
		}
		present := pv[0] == 1
		vlen := int(binary.LittleEndian.Uint16(pv[1:]))
		if pv[0] > 1 || vlen > maxIndexValue || (!present && vlen != 0) {
			return undoRecord{}, fmt.Errorf("decode undo record: bad index value header %x", pv)
		}
		val, err := r.take(vlen, "undo index value")
		if err != nil {
			return undoRecord{}, fmt.Errorf("decode undo record: %w", err)
		}
		u.index[i] = indexUndo{key: string(k), slot: indexSlot{present: present}}
		if present {
			u.index[i].slot.val = append([]byte{}, val...)
		}
	}
	if len(r.b) != 0 {
		return undoRecord{}, fmt.Errorf("decode undo record: %d trailing bytes", len(r.b))
	}
	return u, nil
}
