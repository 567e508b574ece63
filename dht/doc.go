// Package dht owns peer and content discovery: the go-libp2p-kad-dht
// instance under the "/myco" protocol prefix, bootstrapping, providing and
// reproviding root CIDs, and finding providers.
//
// It does not move content; the swarm package does that with the peers
// this package finds.
package dht
