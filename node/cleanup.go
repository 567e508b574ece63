package node

import "errors"

// cleanup is a stack of closers. New pushes each resource as soon as it
// exists; an error unwinds the stack once, last made first, and Close
// unwinds the same stack, so the two can never disagree on what is closed
// or in which order.
type cleanup struct {
	closers []func() error
}

// push adds a closer to run before every closer pushed earlier.
func (c *cleanup) push(close func() error) {
	c.closers = append(c.closers, close)
}

// unwind runs every closer, last pushed first, and joins their errors. The
// stack is empty afterwards, so a second unwind does nothing.
func (c *cleanup) unwind() error {
	var errs []error
	for i := len(c.closers) - 1; i >= 0; i-- {
		errs = append(errs, c.closers[i]())
	}
	c.closers = nil
	return errors.Join(errs...)
}
