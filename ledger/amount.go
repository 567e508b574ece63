package ledger

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseAmount parses an amount in base units (a non-negative decimal
// integer, as the CLI and API take it), with an error that says what is
// wrong.
func ParseAmount(s string) (uint64, error) {
	if s == "" {
		return 0, fmt.Errorf("parse amount: empty")
	}
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("parse amount %q: negative", s)
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, fmt.Errorf("parse amount %q: larger than %d base units", s, ^uint64(0))
		}
		return 0, fmt.Errorf("parse amount %q: not a whole number of base units", s)
	}
	return v, nil
}

// FormatCoins shows base units as coins with 8 decimals, e.g. "1.50000000".
func FormatCoins(v uint64) string {
	return fmt.Sprintf("%d.%08d", v/Coin, v%Coin)
}
