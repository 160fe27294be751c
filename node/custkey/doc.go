// Package custkey is the libp2p protocol by which the tills of a store
// hand each other the keys that seal customers' personal fields in the
// CRDT (protocol /tillmesh/customer-keys/1; crdt/customer_seal.go,
// docs/SECURITY.md). The keys never enter the CRDT: a DAG block is
// permanent, and a key kept there could never be shredded when the
// customer is erased.
//
// One request and one answer per stream, each a length-prefixed CBOR
// message of at most 64 KiB (framed by node/cborwire, which the grant
// protocol shares). A request pushes keys (a till that made a customer's
// key sends it to every connected till at once) and pulls the
// keys of customers the asker holds sealed fields of but cannot open;
// the answer carries the keys the server holds of those customers. A
// peer that is not admitted is reset before anything is read. What to
// keep and what to give is the Handler's (node/customerkeys.go): it
// gives and keeps no key of an erased customer.
//
// Concurrency: Serve registers a handler that libp2p calls on its own
// goroutines; the Handler must be safe for concurrent use. Exchange is
// safe for concurrent use.
//
// It imports ledger, node/cborwire and libp2p's core interfaces only.
package custkey
