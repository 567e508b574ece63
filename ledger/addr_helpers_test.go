package ledger

import (
	"testing"

	"github.com/btcsuite/btcd/btcutil/bech32"
)

func bech32ConvertForTest(raw []byte) (string, error) {
	data, err := bech32.ConvertBits(raw, 8, 5, true)
	if err != nil {
		return "", err
	}
	return bech32.EncodeM(NetworkMain.Params().HRP, data)
}

func mustBech32(t *testing.T, hrp string, raw []byte) string {
	t.Helper()
	data, err := bech32.ConvertBits(raw, 8, 5, true)
	if err != nil {
		t.Fatal(err)
	}
	s, err := bech32.Encode(hrp, data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
