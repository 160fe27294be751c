// Package grant is the libp2p protocol by which a till asks the owner of
// a sale's refundable remainder (the till that made the sale) for a grant
// before it refunds (protocol /tillmesh/grant/1). The owner answers with
// the refund lines it reserves for the asker, computed from everything it
// knows (ledger.Fold.GrantLines), after storing the grant durably; the
// asker's refund event names the grant (ledger.Refund.Grant).
//
// This package is only the wire (framed by node/cborwire, which the
// customer key protocol shares) and the stream plumbing: what to grant is
// the Handler's (node/grants.go). One request and one answer per stream,
// each a length-prefixed CBOR message with bounded size; a peer that is
// not admitted is reset before anything is read.
//
// Concurrency: Serve registers a handler that libp2p calls on its own
// goroutines; the Handler must be safe for concurrent use. Ask is safe
// for concurrent use.
//
// It imports ledger, node/cborwire and libp2p's core interfaces only.
package grant
