package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

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

// keyFileHeader starts every key file so that a wrong file is recognised.
const keyFileHeader = "myco-secp256k1-key-v1\n"

// maxKeyFile bounds what LoadKey reads: a key file is 87 bytes.
const maxKeyFile = 4096

// SaveKey writes k to a new file at path with mode 0600. It refuses to
// overwrite an existing file, so a wallet key is never lost by accident.
func SaveKey(path string, k *btcec.PrivateKey) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("save key: %w", err)
	}
	body := keyFileHeader + hex.EncodeToString(k.Serialize()) + "\n"
	if _, err := f.WriteString(body); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("save key %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("save key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("save key %s: %w", path, err)
	}
	return nil
}

// ErrKeyFile is wrapped by LoadKey when a file is not a valid key file.
var ErrKeyFile = errors.New("not a myco key file")

// LoadKey reads a key written by SaveKey. It refuses a file that others
// can read (mode bits beyond 0600), like ssh does.
func LoadKey(path string) (*btcec.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w", path, err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("load key %s: permissions %#o are too open, want 0600", path, perm)
	}
	body, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w", path, err)
	}
	if len(body) > maxKeyFile {
		return nil, fmt.Errorf("load key %s: %w: larger than %d bytes", path, ErrKeyFile, maxKeyFile)
	}
	rest, ok := bytes.CutPrefix(body, []byte(keyFileHeader))
	if !ok {
		return nil, fmt.Errorf("load key %s: %w: missing header", path, ErrKeyFile)
	}
	raw, err := hex.DecodeString(string(bytes.TrimSpace(rest)))
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w: %v", path, ErrKeyFile, err)
	}
	if len(raw) != btcec.PrivKeyBytesLen {
		return nil, fmt.Errorf("load key %s: %w: %d key bytes, want %d", path, ErrKeyFile, len(raw), btcec.PrivKeyBytesLen)
	}
	k, _ := btcec.PrivKeyFromBytes(raw)
	if k.Key.IsZero() {
		return nil, fmt.Errorf("load key %s: %w: zero key", path, ErrKeyFile)
	}
	return k, nil
}
