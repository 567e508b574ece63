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

// accountReader reads committed or overlaid account state.
type accountReader interface {
	account(a Address) (Account, error)
}

// view is a copy-on-write overlay of account state: writes stay in the
// overlay until someone commits them, so a block (or a whole reorganisation)
// is validated without touching the store.
type view struct {
	base    accountReader
	changed map[Address]Account
	order   []Address // first-touch order, for deterministic undo records
}

func newView(base accountReader) *view {
	return &view{base: base, changed: make(map[Address]Account)}
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

// mergeInto copies v's changes into parent.
func (v *view) mergeInto(parent *view) {
	for _, a := range v.order {
		parent.set(a, v.changed[a])
	}
}

// undoEntry is an account's state before a block touched it.
type undoEntry struct {
	Addr    Address
	Account Account
}

// undoRecord holds, for one connected block, the prior state of every
// account it touched; disconnecting the block writes them back.
type undoRecord []undoEntry

const undoEntrySize = AddressSize + accountSize

func (u undoRecord) encode() []byte {
	b := make([]byte, 0, 4+len(u)*undoEntrySize)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(u)))
	for _, e := range u {
		b = append(b, e.Addr[:]...)
		b = append(b, e.Account.encode()...)
	}
	return b
}

func decodeUndo(b []byte) (undoRecord, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("decode undo record: %d bytes", len(b))
	}
	n := binary.LittleEndian.Uint32(b)
	b = b[4:]
	if uint64(len(b)) != uint64(n)*undoEntrySize {
		return nil, fmt.Errorf("decode undo record: %d entries in %d bytes", n, len(b))
	}
	u := make(undoRecord, n)
	for i := range u {
		copy(u[i].Addr[:], b[:AddressSize])
		acc, _ := decodeAccount(b[AddressSize:undoEntrySize])
		u[i].Account = acc
		b = b[undoEntrySize:]
	}
	return u, nil
}
