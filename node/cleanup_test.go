package node

import (
	"errors"
	"slices"
	"testing"
)

func TestCleanupUnwindsOnceInReverse(t *testing.T) {
	var order []string
	errStore := errors.New("store close failed")
	var stack cleanup
	closer := func(name string, err error) func() error {
		return func() error {
			order = append(order, name)
			return err
		}
	}
	stack.push(closer("host", nil))
	stack.push(closer("store", errStore))
	stack.push(closer("dht", nil))

	err := stack.unwind()
	if want := []string{"dht", "store", "host"}; !slices.Equal(order, want) {
		t.Errorf("closed %v, want %v", order, want)
	}
	if !errors.Is(err, errStore) {
		t.Errorf("unwind = %v, want it to carry %v", err, errStore)
	}
	if err := stack.unwind(); err != nil || len(order) != 3 {
		t.Errorf("second unwind = %v and closed %v; want nothing closed again", err, order)
	}
}
