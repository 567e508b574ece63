//go:build !linux && !darwin && !windows

package service

// New says there is no service manager here.
func New(Spec) (Manager, error) { return nil, ErrUnsupported }
