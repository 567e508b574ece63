package ledger

import (
	"crypto/sha256"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/btcutil/bech32"
)

// AddressSize is the length of an address: the first 20 bytes of the
// SHA-256 of the 32-byte x-only (BIP-340) public key.
const AddressSize = 20

// Address identifies an account.
type Address [AddressSize]byte

// AddressFromPubKey returns the address of a public key. Only the x-only
// form counts (BIP-340), so a key and its negation share an address, as they
// share every signature.
func AddressFromPubKey(pub *btcec.PublicKey) Address {
	return addressFromXOnly(schnorr.SerializePubKey(pub))
}

func addressFromXOnly(x []byte) Address {
	sum := sha256.Sum256(x)
	var a Address
	copy(a[:], sum[:AddressSize])
	return a
}

// IsZero reports whether a is the zero address (no key has it in practice;
// it is the recipient of the genesis coinbase and of anchors).
func (a Address) IsZero() bool { return a == Address{} }

// Encode returns the bech32m form of a with the network's prefix, e.g. "myco1…".
func (a Address) Encode(p *Params) string {
	data, err := bech32.ConvertBits(a[:], 8, 5, true)
	if err != nil { // cannot happen for 8-to-5 with padding
		panic(fmt.Sprintf("ledger: convert address bits: %v", err))
	}
	s, err := bech32.EncodeM(p.HRP, data)
	if err != nil { // cannot happen: every 5-bit value is in the charset
		panic(fmt.Sprintf("ledger: encode address: %v", err))
	}
	return s
}

// DecodeAddress parses a bech32m address of the network p.
func DecodeAddress(s string, p *Params) (Address, error) {
	var a Address
	// An address is 43-44 characters; anything much longer is not one.
	if len(s) > 90 {
		return a, fmt.Errorf("decode address: %d characters is too long for an address", len(s))
	}
	hrp, data, version, err := bech32.DecodeGeneric(s)
	if err != nil {
		return a, fmt.Errorf("%q is not an address (%w): an address looks like %s1… and is 43 or 44 characters", s, err, p.HRP)
	}
	if hrp != p.HRP {
		return a, fmt.Errorf("address %q is for another network: its prefix %q is not %q, this %s network's", s, hrp, p.HRP, p.Name)
	}
	if version != bech32.VersionM {
		return a, fmt.Errorf("decode address %q: bech32 checksum, want bech32m", s)
	}
	raw, err := bech32.ConvertBits(data, 5, 8, false)
	if err != nil {
		return a, fmt.Errorf("decode address %q: %w", s, err)
	}
	if len(raw) != AddressSize {
		return a, fmt.Errorf("decode address %q: %d bytes, want %d", s, len(raw), AddressSize)
	}
	copy(a[:], raw)
	return a, nil
}

// GenerateKey returns a new random secp256k1 private key.
func GenerateKey() (*btcec.PrivateKey, error) {
	k, err := btcec.NewPrivateKey()
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}
