package ledger

import (
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
