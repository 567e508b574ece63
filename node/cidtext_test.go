package node

import (
	"errors"
	"strings"
	"testing"

	mycodht "github.com/myco-p2p/myco/dht"
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
		if !errors.Is(err, mycodht.ErrMalformedCID) {
			t.Errorf("ParseCID(%q) does not wrap ErrMalformedCID", c.in)
		}
	}
	if _, err := ParseCID("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"); err != nil {
		t.Errorf("a good CID: %v", err)
	}
}
