package keyfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
)

func TestKeyFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wallet.key")
	k, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := Save(path, k); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %#o, want 0600", st.Mode().Perm())
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Key.Equals(&k.Key) {
		t.Error("loaded key differs from saved key")
	}
	// A second save must not overwrite the first key.
	k2, _ := btcec.NewPrivateKey()
	if err := Save(path, k2); !errors.Is(err, os.ErrExist) {
		t.Errorf("Save over an existing file: err = %v, want os.ErrExist", err)
	}
	again, err := Load(path)
	if err != nil || !again.Key.Equals(&k.Key) {
		t.Errorf("key changed after refused overwrite (err %v)", err)
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := keyFileHeader + strings.Repeat("11", 32) + "\n"
	for _, tc := range []struct {
		name, body string
		mode       os.FileMode
		want       string
	}{
		{"open-mode", good, 0o644, "too open"},
		{"no-header", strings.Repeat("11", 32), 0o600, "missing header"},
		{"short", keyFileHeader + "1111\n", 0o600, "key bytes"},
		{"not-hex", keyFileHeader + strings.Repeat("zz", 32) + "\n", 0o600, "invalid byte"},
		{"zero", keyFileHeader + strings.Repeat("00", 32) + "\n", 0o600, "zero key"},
		{"huge", keyFileHeader + strings.Repeat("1", 5000), 0o600, "larger than"},
	} {
		p := write(tc.name, tc.body, tc.mode)
		_, err := Load(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want os.ErrNotExist", err)
	}
	if _, err := Load(write("ok", good, 0o600)); err != nil {
		t.Errorf("valid key file: %v", err)
	}
}
