// Package pki is the store's public-key infrastructure on disk: the store
// file every till holds (store ID, the LAN mesh's private-network key, the
// CA public key), the CA key that stays with whoever enrolls tills, each
// till's ed25519 key (its ledger signing key and libp2p identity) and the
// certificates the CA signs, with the registry of till numbers issued.
//
// Invariants: secrets are written with mode 0600, atomically (temp file,
// fsync, rename, directory fsync), so a power cut leaves the old file or
// the new one; a till number is never given to a second key, so receipt
// numbers never repeat; a certificate is loaded only if it is for the
// till's own key and signed by the store's CA.
//
// The functions are safe for concurrent use on different files; two
// enrolments in one store directory at once are not. pki imports ledger
// and node/badgeropen (for the directory sync); never node.
package pki
