package main

import (
	"github.com/ipfs/go-cid"

	"github.com/myco-p2p/myco/node"
)

// parseCID checks a CID typed by the user before the daemon is asked, so a
// typo is answered in words with or without a daemon.
func parseCID(s string) (cid.Cid, error) { return node.ParseCID(s) }
