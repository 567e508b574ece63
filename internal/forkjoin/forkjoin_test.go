package forkjoin

import (
	"sync/atomic"
	"testing"
)

// Every iteration runs exactly once, whatever the split, and all have
// returned when the Runner does.
func TestEveryIterationOnce(t *testing.T) {
	for _, workers := range []int{0, 1, 2, 3, 8} {
		for _, n := range []int{0, 1, 2, 7, 100} {
			counts := make([]atomic.Int32, n)
			New(workers)(n, func(i int) { counts[i].Add(1) })
			for i := range counts {
				if c := counts[i].Load(); c != 1 {
					t.Fatalf("workers %d, n %d: iteration %d ran %d times", workers, n, i, c)
				}
			}
		}
	}
}
