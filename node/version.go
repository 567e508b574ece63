package node

import "runtime/debug"

// Version is the release of this build.
const Version = "0.1.0-dev"

// buildCommit may be set at link time with
// -ldflags "-X github.com/myco-p2p/myco/node.buildCommit=REV"; it is read,
// never written, by the program.
var buildCommit string

// Commit returns the VCS revision the binary was built from, or "unknown".
func Commit() string {
	if buildCommit != "" {
		return buildCommit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}
