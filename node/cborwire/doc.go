// Package cborwire is the framing and stream plumbing shared by the
// request/answer protocols between admitted tills that speak CBOR
// (node/grant, node/custkey): one request and one answer per stream, each
// a message framed as the uvarint length of its body followed by the body,
// the value in CBOR as cbor.Marshal writes it by default.
//
// A Codec names the protocol (for errors), bounds a message's body and
// holds the decoding limits. Serve answers one stream: a peer that is not
// admitted is reset before anything is read, the stream gets a deadline,
// the request is read at most Max bytes (plus its length), and the answer
// is written. Call is the asking side. The wire format is the protocols':
// changing anything here changes theirs, so a change of the framing must
// be a new protocol version.
//
// Concurrency: a Codec is a value and safe for concurrent use; Serve and
// Call use only their stream.
//
// It imports no tillmesh package and libp2p's core interfaces only.
package cborwire
