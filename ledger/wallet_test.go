package ledger

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseNetwork(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Network
		wantErr bool
	}{
		{"main", NetworkMain, false},
		{"dev", NetworkDev, false},
		{"Main", "", true},
		{"", "", true},
		{"test", "", true},
	} {
		got, err := ParseNetwork(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseNetwork(%q) = %q, %v; want %q, err=%v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "unknown network") {
			t.Errorf("ParseNetwork(%q) error %q does not say what is wrong", tc.in, err)
		}
	}
	if NetworkMain.Params().HRP == NetworkDev.Params().HRP {
		t.Error("main and dev share an address prefix")
	}
	if NetworkMain.Params().ChainID == NetworkDev.Params().ChainID {
		t.Error("main and dev share a chain id")
	}
}

func TestKeyFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wallet.key")
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := SaveKey(path, k); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %#o, want 0600", st.Mode().Perm())
	}
	got, err := LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Key.Equals(&k.Key) {
		t.Error("loaded key differs from saved key")
	}
	// A second save must not overwrite the first key.
	k2, _ := GenerateKey()
	if err := SaveKey(path, k2); !errors.Is(err, os.ErrExist) {
		t.Errorf("SaveKey over an existing file: err = %v, want os.ErrExist", err)
	}
	again, err := LoadKey(path)
	if err != nil || !again.Key.Equals(&k.Key) {
		t.Errorf("key changed after refused overwrite (err %v)", err)
	}
}

func TestLoadKeyRejectsBadFiles(t *testing.T) {
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
		_, err := LoadKey(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	if _, err := LoadKey(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want os.ErrNotExist", err)
	}
	if _, err := LoadKey(write("ok", good, 0o600)); err != nil {
		t.Errorf("valid key file: %v", err)
	}
}

func TestAddressRoundTrip(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	a := AddressFromPubKey(k.PubKey())
	for _, n := range []Network{NetworkMain, NetworkDev} {
		p := n.Params()
		s := a.Encode(p)
		if !strings.HasPrefix(s, p.HRP+"1") {
			t.Errorf("%s address %q lacks prefix %q", n, s, p.HRP+"1")
		}
		got, err := DecodeAddress(s, p)
		if err != nil {
			t.Fatalf("%s: decode %q: %v", n, s, err)
		}
		if got != a {
			t.Errorf("%s: round trip changed the address", n)
		}
		if _, err := DecodeAddress(strings.ToUpper(s), p); err != nil {
			t.Errorf("%s: upper-case form rejected: %v", n, err)
		}
	}
}

func TestDecodeAddressErrors(t *testing.T) {
	main, dev := NetworkMain.Params(), NetworkDev.Params()
	k, _ := GenerateKey()
	a := AddressFromPubKey(k.PubKey())
	good := a.Encode(main)
	flipped := []byte(good)
	last := len(flipped) - 1
	if flipped[last] == 'q' {
		flipped[last] = 'p'
	} else {
		flipped[last] = 'q'
	}
	shortData, _ := bech32ConvertForTest(a[:10])
	for _, tc := range []struct {
		name, in string
		p        *Params
		want     string
	}{
		{"wrong network", good, dev, "is for another network"},
		{"bad checksum", string(flipped), main, "checksum"},
		{"short", shortData, main, "bytes, want 20"},
		{"garbage", "hello", main, "is not an address"},
		{"empty", "", main, "is not an address"},
		{"too long", strings.Repeat("q", 200), main, "too long"},
		{"bech32 not m", mustBech32(t, main.HRP, a[:]), main, "want bech32m"},
	} {
		_, err := DecodeAddress(tc.in, tc.p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: DecodeAddress(%q) err = %v, want it to mention %q", tc.name, tc.in, err, tc.want)
		}
	}
}

func FuzzDecodeAddress(f *testing.F) {
	p := NetworkMain.Params()
	f.Add(Address{1, 2, 3}.Encode(p))
	f.Add("myco1qqqq")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := DecodeAddress(s, p)
		if err != nil {
			return
		}
		// A decoded address re-encodes to the same string, up to case.
		if got := a.Encode(p); !strings.EqualFold(got, s) {
			t.Fatalf("DecodeAddress(%q) re-encodes as %q", s, got)
		}
	})
}
