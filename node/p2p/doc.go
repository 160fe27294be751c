// Package p2p is a till's libp2p host and peer discovery: the store's
// private network, admission of enrolled tills only, gossipsub for the
// layers above, and the loops that find tills on the LAN and keep them
// connected.
//
// # Network
//
// A Host speaks TCP only, inside a libp2p private network keyed by the
// store's PSK (which rules out QUIC), with no relay, NAT port mapping,
// AutoNAT probing or hole punching: tills share a LAN. Its libp2p identity
// is the till's ed25519 ledger key, so a peer ID and a ledger.TillID name
// the same till (TillOf, PeerOf).
//
// # Admission
//
// The PSK only says "member of this store's network"; a certificate
// signed by the store CA says "this till". When two hosts connect, each
// sends the other a hello on HelloProtocol carrying its certificate. The
// receiver checks that the certificate verifies under the CA and the
// store, that it names the key the peer authenticated with, and that the
// till is not revoked; then it marks the peer admitted and acknowledges.
// A bad hello, or no completed exchange within HelloTimeout, closes the
// connection and the connection gater refuses the peer for RefuseFor.
// Revoked tills are refused by the gater outright, and an admitted till
// that is revoked later is disconnected within a DialInterval.
//
// Every protocol ID carries a version, and a host registers each version
// it speaks while the opener lists them newest first, so multistream
// negotiation settles on the newest both know: a till of one release
// talks to the releases before and after it. The hello has two versions:
// hello 1 carries the certificate alone, hello 2 also the till's release
// (PeerInfo.Release), with room for keys a later release adds.
//
// Admitted(p) becomes true when this host has verified p; the PeerAdmitted
// event (Subscribe) follows once p has acknowledged our certificate too,
// so a message or request sent in response to it is accepted by p. Other
// protocols must serve only peers for which Admitted reports true; the
// gossipsub default validator (CheckMessage) drops messages relayed by
// peers that are not admitted.
//
// # Discovery
//
// Peers come from StaticPeers (dialed and redialed forever), the peer
// cache (last-known admitted peers, read at New and rewritten atomically,
// so a LAN that blocks multicast still works after a restart) and mDNS
// (service _tillmesh._tcp; the TXT record carries the peer ID, a hash of
// the store ID and the addresses; only tills with our store's hash are
// dialed). The dial loop redials a lost peer within about DialInterval and
// backs off, up to MaxBackoff, from peers that keep failing. Block and
// Unblock cut and heal links for tests and the testnet harness.
//
// # Invariants
//
//   - No connection is accepted and nothing is dialed before Run, so the
//     layers that must see every new connection (the CRDT store's
//     broadcaster) can be built between New and Run.
//   - A peer is admitted only under a certificate that verifies for this
//     store and names the peer's own key, and only while connected.
//   - Every PeerAdmitted event is followed by at most one PeerLeft for
//     that peer before the next PeerAdmitted; events are never dropped.
//   - The peer cache and mDNS are hints for dialing, never reasons to
//     trust a peer: every connection passes the hello.
//
// # Concurrency
//
// All Host methods are safe for concurrent use. New starts the goroutine
// that follows connection events; Run owns the discovery and dial loops;
// Close stops everything, closes the libp2p host and the Subscribe
// channels, and waits for the host's goroutines. Config.Revoked is called
// from libp2p's connection path and must be fast and non-blocking.
//
// # Imports
//
// p2p may import ledger and the networking libraries. It must not import
// ui, hw, crdt, node or cmd: node composes p2p with the layers that use it.
package p2p
