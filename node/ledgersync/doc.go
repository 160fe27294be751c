// Package ledgersync replicates the ledger between a store's tills over
// libp2p: new events go out live on a gossipsub topic, and pulls by version
// vector (protocol /tillmesh/ledger/1) fetch whatever gossip missed — when a
// peer joins, when gossip reveals a gap, and every few seconds.
//
// Invariants: every event from a peer is verified before it is stored
// (node/ledgerdb.Insert: runs by their newest signature plus the hash chain,
// others one by one); an invalid event is logged with its reason and
// dropped while valid traffic carries on; a pull sends only what the other
// side's vector lacks (delta sync). Selling never waits for the syncer.
//
// Concurrency: Run owns the goroutines (gossip receiver, anti-entropy
// ticker, at most one pull per peer at a time); Publish, PeerJoined and
// Peers are safe to call from any goroutine.
package ledgersync
