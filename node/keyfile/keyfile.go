package keyfile

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/btcsuite/btcd/btcec/v2"
)

// keyFileHeader starts every key file so that a wrong file is recognised.
const keyFileHeader = "myco-secp256k1-key-v1\n"

// maxKeyFile bounds what Load reads: a key file is 87 bytes.
const maxKeyFile = 4096

// Save writes k to a new file at path with mode 0600. It refuses to
// overwrite an existing file, so a wallet key is never lost by accident.
func Save(path string, k *btcec.PrivateKey) error {
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

// ErrNotKeyFile is wrapped by Load when a file is not a valid key file.
var ErrNotKeyFile = errors.New("not a myco key file")

// Load reads a key written by Save. It refuses a file that others
// can read (mode bits beyond 0600), like ssh does.
func Load(path string) (*btcec.PrivateKey, error) {
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
		return nil, fmt.Errorf("load key %s: %w: larger than %d bytes", path, ErrNotKeyFile, maxKeyFile)
	}
	rest, ok := bytes.CutPrefix(body, []byte(keyFileHeader))
	if !ok {
		return nil, fmt.Errorf("load key %s: %w: missing header", path, ErrNotKeyFile)
	}
	raw, err := hex.DecodeString(string(bytes.TrimSpace(rest)))
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w: %v", path, ErrNotKeyFile, err)
	}
	if len(raw) != btcec.PrivKeyBytesLen {
		return nil, fmt.Errorf("load key %s: %w: %d key bytes, want %d", path, ErrNotKeyFile, len(raw), btcec.PrivKeyBytesLen)
	}
	k, _ := btcec.PrivKeyFromBytes(raw)
	if k.Key.IsZero() {
		return nil, fmt.Errorf("load key %s: %w: zero key", path, ErrNotKeyFile)
	}
	return k, nil
}
