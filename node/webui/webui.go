// Package webui owns the web dashboard's assets (plain HTML, CSS and
// JavaScript embedded in the binary: no build step, no third-party
// library, no request to any other host) and the dashboard's small pieces
// of state that need no network: the one-time login secrets and the
// sessions they become (Auth), and the bandwidth history behind the
// overview's chart (Bandwidth). Serving them, and what the pages call, is
// the node package's (node/api_webui.go).
//
// Decisions where the issue is silent:
//
//   - A login secret is good once, for 10 minutes; a session lasts 12
//     hours after it was last used and lives in the daemon's memory only,
//     so a daemon restart logs every browser out (run 'myco webui' again).
//   - At most 16 unused login secrets and 64 sessions are remembered; past
//     that the oldest is forgotten, so an API client cannot grow the
//     daemon's memory without bound.
//   - The pages poll nothing: one Server-Sent Events stream sends the whole
//     state once a second; the bandwidth chart's 10 minutes are sampled by
//     the daemon every second, whether or not a page is open.
package webui

import (
	"embed"
	"io/fs"
)

//go:embed assets
var assets embed.FS

// Assets returns the dashboard's files: index.html, app.js, app.css.
func Assets() fs.FS {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the directory is embedded above: it is there
	}
	return sub
}
