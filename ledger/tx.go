package ledger

import (
	"encoding/binary"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/ipfs/go-cid"
)

// TxKind says what a transaction does.
type TxKind uint8

const (
	// TxCoinbase is the first transaction of a block: it pays the subsidy
	// plus the block's fees to the miner. It has no sender and no signature;
	// its nonce is the block height, which makes every coinbase id unique.
	TxCoinbase TxKind = 0
	// TxTransfer moves Amount from the sender to Recipient; Payload is a memo.
	TxTransfer TxKind = 1
	// TxAnchor records a CID, optionally under a name, in Payload (see
	// Anchor). It moves no coins and only pays its fee.
	TxAnchor TxKind = 2
	// TxNameCommit commits to a name before claiming it: its Payload is
	// NameCommitment(name, salt, sender's address), which hides the name.
	// It moves no coins and only pays its fee.
	TxNameCommit TxKind = 3
	// TxChannelOpen opens a payment channel: the sender (payer) locks
	// Amount for Recipient (payee) until the expiry height in Payload (see
	// ChannelPayload). The channel's id is the transaction's id.
	TxChannelOpen TxKind = 4
	// TxChannelClose is the payee's close of a channel with the payer's
	// voucher: the payee receives the voucher's amount, the payer the rest
	// of the deposit. It moves none of the sender's coins but its fee.
	TxChannelClose TxKind = 5
	// TxChannelRefund is the payer's refund of a channel's whole deposit,
	// at or after its expiry height, when no close came first.
	TxChannelRefund TxKind = 6
	// TxChannelTopup adds Amount to an open channel's deposit and sets a
	// new expiry, no earlier than the old one.
	TxChannelTopup TxKind = 7
)

// String returns the kind's name.
func (k TxKind) String() string {
	switch k {
	case TxCoinbase:
		return "coinbase"
	case TxTransfer:
		return "transfer"
	case TxAnchor:
		return "anchor"
	case TxNameCommit:
		return "name-commit"
	case TxChannelOpen:
		return "channel-open"
	case TxChannelClose:
		return "channel-close"
	case TxChannelRefund:
		return "channel-refund"
	case TxChannelTopup:
		return "channel-topup"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// PubKeySize is the size of a BIP-340 x-only public key; SigSize of a
// BIP-340 signature.
const (
	PubKeySize = 32
	SigSize    = 64
)

// MaxPayloadEncodable is the most a payload's 2-byte length can say; the
// network's MaxPayload is the rule.
const MaxPayloadEncodable = 1<<16 - 1

// Tx is a transaction. Its canonical encoding is, in order: chain id
// (uint32), kind (uint8), sender (32-byte x-only key), nonce (uint64),
// recipient (20 bytes), amount (uint64), fee (uint64), payload length
// (uint16) and payload, signature (64 bytes); integers little-endian. The
// signature is BIP-340 Schnorr over SigHash, which covers every field but
// the signature. The id is the double SHA-256 of the whole encoding.
type Tx struct {
	ChainID   uint32
	Kind      TxKind
	Sender    [PubKeySize]byte
	Nonce     uint64
	Recipient Address
	Amount    uint64
	Fee       uint64
	Payload   []byte
	Sig       [SigSize]byte
}

// Size returns the length of the canonical encoding.
func (tx *Tx) Size() int { return TxFixedSize + len(tx.Payload) }

// AppendUnsigned appends the encoding of every field except the signature.
func (tx *Tx) AppendUnsigned(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, tx.ChainID)
	b = append(b, byte(tx.Kind))
	b = append(b, tx.Sender[:]...)
	b = binary.LittleEndian.AppendUint64(b, tx.Nonce)
	b = append(b, tx.Recipient[:]...)
	b = binary.LittleEndian.AppendUint64(b, tx.Amount)
	b = binary.LittleEndian.AppendUint64(b, tx.Fee)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(tx.Payload)))
	return append(b, tx.Payload...)
}

// Append appends the canonical encoding of tx. A payload longer than
// MaxPayloadEncodable cannot be encoded; check with Sanity first.
func (tx *Tx) Append(b []byte) []byte {
	if len(tx.Payload) > MaxPayloadEncodable {
		panic("ledger: encode tx: payload longer than 65535 bytes")
	}
	b = tx.AppendUnsigned(b)
	return append(b, tx.Sig[:]...)
}

// Encode returns the canonical encoding of tx.
func (tx *Tx) Encode() []byte { return tx.Append(make([]byte, 0, tx.Size())) }

// ID returns the transaction id: the double SHA-256 of the encoding.
func (tx *Tx) ID() Hash { return DoubleSHA256(tx.Encode()) }

// sigHashTag domain-separates transaction signatures (BIP-340 tagged hash).
const sigHashTag = "myco/tx/v1"

// SigHash returns the 32-byte message the sender signs: the BIP-340 tagged
// hash of the unsigned encoding.
func (tx *Tx) SigHash() [32]byte {
	return taggedHash(sigHashTag, tx.AppendUnsigned(make([]byte, 0, tx.Size())))
}

// SenderAddress returns the address of the sender's key.
func (tx *Tx) SenderAddress() Address { return addressFromXOnly(tx.Sender[:]) }

// Sign sets the sender to k's public key and signs tx.
func (tx *Tx) Sign(k *btcec.PrivateKey) error {
	copy(tx.Sender[:], schnorr.SerializePubKey(k.PubKey()))
	h := tx.SigHash()
	sig, err := schnorr.Sign(k, h[:])
	if err != nil {
		return fmt.Errorf("sign tx: %w", err)
	}
	copy(tx.Sig[:], sig.Serialize())
	return nil
}

// VerifySignature checks the sender's signature (coinbases have none).
func (tx *Tx) VerifySignature() error { return tx.verifySignature(nil, sigKeep) }

// verifySignature checks the sender's signature through cache (see
// sigCache.check).
func (tx *Tx) verifySignature(cache *sigCache, use sigUse) error {
	h := tx.SigHash()
	return cache.check(newSigKey(&h, &tx.Sender, &tx.Sig), use, func() error {
		pub, err := schnorr.ParsePubKey(tx.Sender[:])
		// The sender must be a valid x-only public key.
		if err != nil {
			return ruleErr(ErrBadPubKey, "sender %x: %v", tx.Sender, err)
		}
		sig, err := schnorr.ParseSignature(tx.Sig[:])
		// The signature must parse and verify against the sender over SigHash.
		if err != nil {
			return ruleErr(ErrBadSignature, "tx %s: %v", tx.ID(), err)
		}
		if !sig.Verify(h[:], pub) {
			return ruleErr(ErrBadSignature, "tx %s: signature does not verify", tx.ID())
		}
		return nil
	})
}

// DecodeTx decodes exactly one canonical transaction from b.
func DecodeTx(b []byte) (*Tx, error) {
	r := reader{b: b}
	tx, err := r.tx()
	if err != nil {
		return nil, err
	}
	if len(r.b) != 0 {
		return nil, ruleErr(ErrMalformed, "decode tx: %d trailing bytes", len(r.b))
	}
	return tx, nil
}

// reader consumes a byte slice, reporting short input as ErrMalformed.
type reader struct{ b []byte }

func (r *reader) take(n int, what string) ([]byte, error) {
	if n > len(r.b) {
		return nil, ruleErr(ErrMalformed, "decode %s: need %d bytes, have %d", what, n, len(r.b))
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out, nil
}

func (r *reader) tx() (*Tx, error) {
	// The fixed part is checked in one piece, before anything is allocated.
	fixed, err := r.take(TxFixedSize-SigSize, "tx")
	if err != nil {
		return nil, err
	}
	tx := &Tx{}
	tx.ChainID = binary.LittleEndian.Uint32(fixed[0:4])
	tx.Kind = TxKind(fixed[4])
	copy(tx.Sender[:], fixed[5:37])
	tx.Nonce = binary.LittleEndian.Uint64(fixed[37:45])
	copy(tx.Recipient[:], fixed[45:65])
	tx.Amount = binary.LittleEndian.Uint64(fixed[65:73])
	tx.Fee = binary.LittleEndian.Uint64(fixed[73:81])
	n := int(binary.LittleEndian.Uint16(fixed[81:83]))
	// The payload length is checked against the input left before copying.
	payload, err := r.take(n, "tx payload")
	if err != nil {
		return nil, err
	}
	if n > 0 {
		tx.Payload = append([]byte(nil), payload...)
	}
	sig, err := r.take(SigSize, "tx signature")
	if err != nil {
		return nil, err
	}
	copy(tx.Sig[:], sig)
	return tx, nil
}

// Name limits: a name is 3 to 63 lower-case letters, digits and '-'.
const (
	MinNameLen = 3
	MaxNameLen = 63
)

// SaltSize is the size of the secret salt of a name commitment.
const SaltSize = 32

// Anchor is the payload of a TxAnchor: a CID, an optional name and, when
// the anchor claims a name nobody owns yet, the salt of the sender's
// earlier name commitment (see NameCommitment). Its encoding is the CID's
// length (one byte) and binary form, the name's length (one byte) and
// bytes, then the salt (SaltSize bytes) or nothing. A salt needs a name.
type Anchor struct {
	CID  cid.Cid
	Name string
	// Salt is set (non-nil, SaltSize bytes) only on a first claim.
	Salt []byte
}

// Encode returns the payload bytes of a.
func (a Anchor) Encode() ([]byte, error) {
	if !a.CID.Defined() {
		return nil, fmt.Errorf("encode anchor: CID is not defined")
	}
	raw := a.CID.Bytes()
	if len(raw) > 255 {
		return nil, fmt.Errorf("encode anchor: CID is %d bytes, at most 255", len(raw))
	}
	if a.Name != "" {
		if err := CheckName(a.Name); err != nil {
			return nil, fmt.Errorf("encode anchor: %w", err)
		}
	}
	if err := checkSalt(a.Name, a.Salt); err != nil {
		return nil, fmt.Errorf("encode anchor: %w", err)
	}
	b := make([]byte, 0, 2+len(raw)+len(a.Name)+len(a.Salt))
	b = append(b, byte(len(raw)))
	b = append(b, raw...)
	b = append(b, byte(len(a.Name)))
	b = append(b, a.Name...)
	return append(b, a.Salt...), nil
}

// DecodeAnchor parses an anchor payload; it accepts only the canonical
// encoding, so an anchor's bytes are a function of its fields.
func DecodeAnchor(b []byte) (Anchor, error) {
	var a Anchor
	r := reader{b: b}
	n, err := r.take(1, "anchor CID length")
	if err != nil {
		return a, fmt.Errorf("decode anchor: %w", err)
	}
	raw, err := r.take(int(n[0]), "anchor CID")
	if err != nil {
		return a, fmt.Errorf("decode anchor: %w", err)
	}
	if len(raw) == 0 {
		return a, fmt.Errorf("decode anchor: empty CID")
	}
	c, err := cid.Cast(raw)
	if err != nil {
		return a, fmt.Errorf("decode anchor: %w", err)
	}
	// cid.Cast accepts a few spellings of one CID; only its canonical
	// bytes make a canonical payload.
	if string(c.Bytes()) != string(raw) {
		return a, fmt.Errorf("decode anchor: CID is not in its canonical binary form")
	}
	n, err = r.take(1, "anchor name length")
	if err != nil {
		return a, fmt.Errorf("decode anchor: %w", err)
	}
	name, err := r.take(int(n[0]), "anchor name")
	if err != nil {
		return a, fmt.Errorf("decode anchor: %w", err)
	}
	a.CID, a.Name = c, string(name)
	if a.Name != "" {
		if err := CheckName(a.Name); err != nil {
			return Anchor{}, fmt.Errorf("decode anchor: %w", err)
		}
	}
	if len(r.b) > 0 {
		a.Salt = append([]byte(nil), r.b...)
	}
	if err := checkSalt(a.Name, a.Salt); err != nil {
		return Anchor{}, fmt.Errorf("decode anchor: %w", err)
	}
	return a, nil
}

// CheckName reports why name cannot be a name: names are MinNameLen to
// MaxNameLen bytes of lower-case ASCII letters, digits and '-', and never
// also the text of a CID (so "fetch NAME|CID" is never ambiguous).
func CheckName(name string) error {
	// Characters are checked first: a name of non-ASCII letters is told
	// which one is not allowed, not a byte count.
	for _, ch := range name {
		if !('a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' || ch == '-') {
			return fmt.Errorf("name %q: %q is not allowed: names use only lower-case letters a-z, digits and '-'", name, ch)
		}
	}
	if len(name) < MinNameLen || len(name) > MaxNameLen {
		return fmt.Errorf("name %q is %d characters, want %d to %d", name, len(name), MinNameLen, MaxNameLen)
	}
	if _, err := cid.Decode(name); err == nil {
		return fmt.Errorf("name %q is also a CID", name)
	}
	return nil
}

func checkSalt(name string, salt []byte) error {
	if salt == nil {
		return nil
	}
	if name == "" {
		return fmt.Errorf("a salt without a name")
	}
	if len(salt) != SaltSize {
		return fmt.Errorf("salt is %d bytes, want %d", len(salt), SaltSize)
	}
	return nil
}
