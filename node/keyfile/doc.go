// Package keyfile keeps a wallet's secp256k1 private key in a file: Save
// writes a new one, Load reads it back.
//
// It owns the file format and its safety rules, not the key's meaning
// (addresses and signatures are ledger's). A key file is a header line
// ("myco-secp256k1-key-v1") and the 32 key bytes in hex: 87 bytes, read
// with a 4 KiB limit. Save creates the file with mode 0600, syncs it, and
// never overwrites an existing file, so a wallet key is never lost by
// accident; on a failed write it removes what it created. Load refuses a
// file that others may read (mode bits beyond 0600), like ssh, and a file
// that is not a key file wraps ErrNotKeyFile.
package keyfile
