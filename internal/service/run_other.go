//go:build !windows

package service

import "context"

// RunDaemon calls run(ctx): systemd and launchd stop a daemon with
// SIGTERM, which the caller's context already ends on.
func RunDaemon(ctx context.Context, run func(context.Context) error) error { return run(ctx) }
