// Package forkjoin runs the iterations of a loop on several goroutines
// that all end before the loop returns. It is how the ledger, which starts
// no goroutine of its own, verifies a block's signatures on every core:
// the caller that opens a chain hands it a Runner.
package forkjoin

import "sync"

// Runner runs fn(0), …, fn(n-1), possibly at once, and returns when every
// call has returned.
type Runner func(n int, fn func(i int))

// New returns a Runner that splits the n iterations into at most workers
// contiguous runs, one goroutine each. With workers below 2 (or a single
// iteration) it runs them in order on the caller's goroutine.
func New(workers int) Runner {
	return func(n int, fn func(i int)) {
		w := min(workers, n)
		if w <= 1 {
			for i := range n {
				fn(i)
			}
			return
		}
		var wg sync.WaitGroup
		chunk := (n + w - 1) / w
		for start := 0; start < n; start += chunk {
			end := min(start+chunk, n)
			wg.Go(func() {
				for i := start; i < end; i++ {
					fn(i)
				}
			})
		}
		wg.Wait()
	}
}
