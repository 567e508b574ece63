// Command myco is the myco daemon and the CLI that drives it.
//
// It imports no myco package but node: the daemon, the API client and the
// few helpers the CLI shares with the daemon (parsing and formatting rates,
// amounts, chain names and CIDs; the service manager) are reached through
// node, which re-exports them from the packages that own them
// (node/reexport.go). Its tests may import more, to look at the node from
// outside: harnesses (internal/attack, testnet/lab, internal/treecmp) and
// fixtures (chunker and car to verify what the gateway serves; ledger for
// the network and header size the attacks are measured in).
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
