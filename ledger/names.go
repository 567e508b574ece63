package ledger

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/ipfs/go-cid"
)

// This file holds the anchor indexes and the rules of names: proof of
// existence (the first anchor of each CID), name records (current CID and
// owner of each name) and name commitments (the commit step of
// commit-then-reveal). The indexes are key-value entries of the store,
// changed through the same view as accounts, so they are written in the
// block's one atomic batch and rewound by its undo record.

// Index key prefixes (see chain.go for the others).
const (
	prefixFirstAnchor = 'F' // F CID bytes -> firstAnchor (main chain)
	prefixName        = 'R' // R name -> nameRecord (main chain)
	prefixCommit      = 'M' // M commitment -> height uint64 of its first appearance (main chain)
)

func firstAnchorKey(c cid.Cid) string { return string(prefixFirstAnchor) + c.KeyString() }
func nameKey(name string) string      { return string(prefixName) + name }
func commitKey(h Hash) string         { return string(prefixCommit) + string(h[:]) }

// ErrUnknownCID is wrapped when a CID was never anchored on the main chain.
var ErrUnknownCID = errors.New("CID not anchored")

// ErrUnknownName is wrapped when nobody owns a name on the main chain.
var ErrUnknownName = errors.New("unknown name")

// AnchorProof is the proof of existence of a CID: its first anchor on the
// main chain. The CID existed no later than Time.
type AnchorProof struct {
	CID    cid.Cid
	Height uint64
	Block  Hash
	// Time is the block's timestamp in Unix milliseconds.
	Time  int64
	TxID  Hash
	Owner Address
}

// Confirmations is how many main-chain blocks, counting its own, hold the
// anchor under tip: tip.Height - Height + 1.
func (p AnchorProof) Confirmations(tip TipInfo) uint64 {
	if tip.Height < p.Height {
		return 0
	}
	return tip.Height - p.Height + 1
}

const firstAnchorSize = 8 + HashSize + 8 + HashSize + AddressSize

func (p AnchorProof) encode() []byte {
	b := make([]byte, 0, firstAnchorSize)
	b = binary.LittleEndian.AppendUint64(b, p.Height)
	b = append(b, p.Block[:]...)
	b = binary.LittleEndian.AppendUint64(b, uint64(p.Time))
	b = append(b, p.TxID[:]...)
	return append(b, p.Owner[:]...)
}

func decodeAnchorProof(c cid.Cid, b []byte) (AnchorProof, error) {
	if len(b) != firstAnchorSize {
		return AnchorProof{}, fmt.Errorf("decode anchor index of %s: %d bytes, want %d", c, len(b), firstAnchorSize)
	}
	p := AnchorProof{CID: c, Height: binary.LittleEndian.Uint64(b[0:8])}
	copy(p.Block[:], b[8:40])
	p.Time = int64(binary.LittleEndian.Uint64(b[40:48]))
	copy(p.TxID[:], b[48:80])
	copy(p.Owner[:], b[80:])
	return p, nil
}

// NameRecord is the state of an owned name on the main chain.
type NameRecord struct {
	Name  string
	CID   cid.Cid
	Owner Address
	// Height is the block of the anchor that set CID, TxID that anchor;
	// Claimed is the block of the first claim.
	Height  uint64
	TxID    Hash
	Claimed uint64
}

const nameRecordFixed = AddressSize + 8 + 8 + HashSize

func (r NameRecord) encode() []byte {
	raw := r.CID.Bytes()
	b := make([]byte, 0, nameRecordFixed+len(raw))
	b = append(b, r.Owner[:]...)
	b = binary.LittleEndian.AppendUint64(b, r.Height)
	b = binary.LittleEndian.AppendUint64(b, r.Claimed)
	b = append(b, r.TxID[:]...)
	return append(b, raw...)
}

func decodeNameRecord(name string, b []byte) (NameRecord, error) {
	if len(b) <= nameRecordFixed || len(b) > nameRecordFixed+255 {
		return NameRecord{}, fmt.Errorf("decode name record %q: %d bytes", name, len(b))
	}
	r := NameRecord{Name: name}
	copy(r.Owner[:], b[:AddressSize])
	b = b[AddressSize:]
	r.Height = binary.LittleEndian.Uint64(b[0:8])
	r.Claimed = binary.LittleEndian.Uint64(b[8:16])
	copy(r.TxID[:], b[16:48])
	c, err := cid.Cast(b[48:])
	if err != nil {
		return NameRecord{}, fmt.Errorf("decode name record %q: %w", name, err)
	}
	r.CID = c
	return r, nil
}

// nameCommitTag domain-separates name commitments (BIP-340 style tagged hash).
const nameCommitTag = "myco/name-commit/v1"

// NameCommitment returns the commitment a TxNameCommit carries: a tagged
// SHA-256 of the name, the secret salt and the address that will own the
// name. It reveals nothing about the name without the salt, and binds the
// claim to the owner, so nobody can reuse a revealed salt.
func NameCommitment(name string, salt []byte, owner Address) Hash {
	msg := make([]byte, 0, 2+len(name)+len(salt)+len(owner))
	msg = append(msg, byte(len(name)))
	msg = append(msg, name...)
	msg = append(msg, byte(len(salt)))
	msg = append(msg, salt...)
	msg = append(msg, owner[:]...)
	return taggedHash(nameCommitTag, msg)
}

// NewNameSalt returns a fresh random salt for a name commitment. Whoever
// learns it before the claim is mined can see which name is coming, so it
// stays with the claimant until the claim.
func NewNameSalt() ([]byte, error) {
	salt := make([]byte, SaltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("name salt: %w", err)
	}
	return salt, nil
}

// blockCtx is where a transaction is being applied: the block's height,
// hash and time (hash and time are zero for mempool checks and templates,
// whose index changes are thrown away), and the signature cache vouchers
// are verified through and how (sigKeep for mempool checks and templates,
// sigSpend for a connecting block).
type blockCtx struct {
	p      *Params
	height uint64
	hash   Hash
	time   int64
	sigs   *sigCache
	sigUse sigUse
}

// applyNameCommit records a commitment's first appearance.
func applyNameCommit(v *view, tx *Tx, bc blockCtx) error {
	k := commitKey(Hash(tx.Payload))
	_, ok, err := v.indexValue(k)
	if err != nil || ok {
		return err
	}
	v.setIndex(k, binary.LittleEndian.AppendUint64(nil, bc.height), true)
	return nil
}

// applyAnchor records a sane anchor: the first anchor of its CID and, with
// a name, the name's claim or update, under the name rules.
func applyAnchor(v *view, tx *Tx, bc blockCtx) error {
	a, err := DecodeAnchor(tx.Payload)
	if err != nil {
		return ruleErr(ErrBadAnchor, "%v", err) // checkTxSanity has ruled this out
	}
	from := tx.SenderAddress()
	id := tx.ID()
	fk := firstAnchorKey(a.CID)
	_, anchored, err := v.indexValue(fk)
	if err != nil {
		return err
	}
	// The first anchor of a CID on the chain is its proof of existence; later ones change nothing.
	if !anchored {
		proof := AnchorProof{CID: a.CID, Height: bc.height, Block: bc.hash, Time: bc.time, TxID: id, Owner: from}
		v.setIndex(fk, proof.encode(), true)
	}
	if a.Name == "" {
		return nil
	}
	nk := nameKey(a.Name)
	val, owned, err := v.indexValue(nk)
	if err != nil {
		return err
	}
	if owned {
		rec, err := decodeNameRecord(a.Name, val)
		if err != nil {
			return err
		}
		// Only the owner's key can point an owned name to a new CID.
		if rec.Owner != from {
			return ruleErr(ErrNameTaken, "name %q is owned by %x, anchor is from %x", a.Name, rec.Owner, from)
		}
		rec.CID, rec.Height, rec.TxID = a.CID, bc.height, id
		v.setIndex(nk, rec.encode(), true)
		return nil
	}
	// The first claim of a name reveals the salt of a commitment to the name and its sender.
	if a.Salt == nil {
		return ruleErr(ErrNameNotCommitted, "claim of %q without a commitment salt", a.Name)
	}
	hv, committed, err := v.indexValue(commitKey(NameCommitment(a.Name, a.Salt, from)))
	if err != nil {
		return err
	}
	if !committed {
		return ruleErr(ErrNameNotCommitted, "no commitment on the chain for the claim of %q by %x", a.Name, from)
	}
	if len(hv) != 8 {
		return fmt.Errorf("name commitment index: %d bytes", len(hv))
	}
	// A first claim's commitment is at least NameCommitDepth blocks below the claim's block.
	if at := binary.LittleEndian.Uint64(hv); bc.height < at+bc.p.NameCommitDepth {
		return ruleErr(ErrNameCommitTooNew, "claim of %q at height %d, commitment at %d, need %d blocks between", a.Name, bc.height, at, bc.p.NameCommitDepth)
	}
	rec := NameRecord{Name: a.Name, CID: a.CID, Owner: from, Height: bc.height, TxID: id, Claimed: bc.height}
	v.setIndex(nk, rec.encode(), true)
	return nil
}

// indexValue reads a committed index entry (implements stateReader).
func (c *Chain) indexValue(k string) ([]byte, bool, error) {
	v, err := c.store.Get([]byte(k))
	if errors.Is(err, ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read index: %w", err)
	}
	return v, true, nil
}

// FirstAnchor returns the proof of existence of a CID: its first anchor on
// the main chain, or an error wrapping ErrUnknownCID.
func (c *Chain) FirstAnchor(id cid.Cid) (AnchorProof, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !id.Defined() {
		return AnchorProof{}, fmt.Errorf("first anchor: undefined CID: %w", ErrUnknownCID)
	}
	v, ok, err := c.indexValue(firstAnchorKey(id))
	if err != nil {
		return AnchorProof{}, fmt.Errorf("first anchor of %s: %w", id, err)
	}
	if !ok {
		return AnchorProof{}, fmt.Errorf("first anchor of %s: %w", id, ErrUnknownCID)
	}
	return decodeAnchorProof(id, v)
}

// ResolveName returns the record of an owned name on the main chain, or
// an error wrapping ErrUnknownName (also for a string that cannot be a
// name, with the reason).
func (c *Chain) ResolveName(name string) (NameRecord, error) {
	if err := CheckName(name); err != nil {
		return NameRecord{}, fmt.Errorf("resolve: %v: %w", err, ErrUnknownName)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok, err := c.indexValue(nameKey(name))
	if err != nil {
		return NameRecord{}, fmt.Errorf("resolve %q: %w", name, err)
	}
	if !ok {
		return NameRecord{}, fmt.Errorf("resolve %q: %w", name, ErrUnknownName)
	}
	return decodeNameRecord(name, v)
}

// NameClaimHeight returns the lowest height of a block that may hold the
// claim of name by owner with salt: NameCommitDepth above the block holding
// the commitment. The mempool accepts the claim once the tip is one below
// it. Without the commitment on the main chain it returns an error wrapping
// ErrUnknownName.
func (c *Chain) NameClaimHeight(name string, salt []byte, owner Address) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok, err := c.indexValue(commitKey(NameCommitment(name, salt, owner)))
	if err != nil {
		return 0, fmt.Errorf("name commitment of %q: %w", name, err)
	}
	if !ok || len(v) != 8 {
		return 0, fmt.Errorf("no commitment to %q by %x on the chain: %w", name, owner, ErrUnknownName)
	}
	return binary.LittleEndian.Uint64(v) + c.p.NameCommitDepth, nil
}

// Names returns every owned name on the main chain, in name order.
func (c *Chain) Names() ([]NameRecord, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []NameRecord
	err := c.store.Iterate([]byte{prefixName}, func(k, v []byte) error {
		r, err := decodeNameRecord(string(k[1:]), v)
		if err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list names: %w", err)
	}
	return out, nil
}

// Anchors returns the first anchor of every anchored CID on the main
// chain, in the order of the CIDs' bytes.
func (c *Chain) Anchors() ([]AnchorProof, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []AnchorProof
	err := c.store.Iterate([]byte{prefixFirstAnchor}, func(k, v []byte) error {
		id, err := cid.Cast(k[1:])
		if err != nil {
			return fmt.Errorf("anchor index key %x: %w", k, err)
		}
		p, err := decodeAnchorProof(id, v)
		if err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list anchors: %w", err)
	}
	return out, nil
}

// NewNameCommit builds and signs the commitment to claim name later with
// salt (from NewNameSalt), from key's address, with the next nonce. Keep
// the salt: the claim (NewAnchor with Anchor.Salt) reveals it.
func (c *Chain) NewNameCommit(key *btcec.PrivateKey, name string, salt []byte, fee uint64) (*Tx, error) {
	if err := CheckName(name); err != nil {
		return nil, fmt.Errorf("name commitment: %w", err)
	}
	if len(salt) != SaltSize {
		return nil, fmt.Errorf("name commitment: salt is %d bytes, want %d", len(salt), SaltSize)
	}
	h := NameCommitment(name, salt, AddressFromPubKey(key.PubKey()))
	tx := &Tx{ChainID: c.p.ChainID, Kind: TxNameCommit, Fee: fee, Payload: h[:]}
	return c.signNext(key, tx)
}
