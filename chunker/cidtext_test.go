package chunker

import (
	"errors"
	"strings"
	"testing"
)

func TestParseCIDSaysItOnce(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"b", `"b" is not a CID (cid too short)`},
		{"QmFoo", `"QmFoo" is not a CID (selected encoding not supported)`},
		{"bafyzzzzzzz", `"bafyzzzzzzz" is not a CID (`},
		{"", "the CID is empty"},
	} {
		_, err := ParseCID(c.in)
		if err == nil {
			t.Fatalf("ParseCID(%q) accepted it", c.in)
		}
		msg := err.Error()
		if !strings.Contains(msg, c.want) {
			t.Errorf("ParseCID(%q) = %q; want %q", c.in, msg, c.want)
		}
		if strings.Contains(msg, "invalid cid") || strings.Contains(msg, "malformed CID") || strings.Contains(msg, "parse cid") {
			t.Errorf("ParseCID(%q) = %q repeats itself", c.in, msg)
		}
		if !errors.Is(err, ErrMalformedCID) {
			t.Errorf("ParseCID(%q) does not wrap ErrMalformedCID", c.in)
		}
	}
	if _, err := ParseCID("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"); err != nil {
		t.Errorf("a good CID: %v", err)
	}
}

func TestParseCID(t *testing.T) {
	v1 := "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
	v0 := "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n"
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"cidv1 base32", v1, true},
		{"cidv0 base58", v0, true},
		{"empty", "", false},
		{"garbage", "not-a-cid", false},
		{"truncated", v1[:20], false},
		{"too long", "b" + strings.Repeat("a", MaxCIDStringLen), false},
		{"unknown multibase", "!" + v1[1:], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCID(tc.in)
			if tc.ok {
				if err != nil || !c.Defined() {
					t.Fatalf("ParseCID(%q) = %v, %v", tc.in, c, err)
				}
				return
			}
			if !errors.Is(err, ErrMalformedCID) {
				t.Fatalf("ParseCID(%q) error = %v, want ErrMalformedCID", tc.in, err)
			}
		})
	}
}
