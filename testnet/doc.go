// Package testnet starts networks of myco nodes for tests: in-process nodes
// on loopback sockets or on a mocknet, with helpers to connect, partition,
// heal, kill and restart them. The shell scripts beside it start real
// daemons on 127.0.0.1.
package testnet
