// Package crdt is a till's replica of the store's inventory state —
// catalog, staff, till certificates and their revocation list, settings,
// and live stock — kept in go-ds-crdt (v0.6.8) and replicated between
// tills over libp2p, with a typed API.
//
// The ledger, not this package, is the source of truth for money and
// stock: stock here is a fast, replicated view that any till can read
// without the network, rebuilt from the ledger when in doubt.
//
// # Data
//
// Catalog, staff, certificates, revocations and settings are keys with
// go-ds-crdt's resolution: a write that has seen another wins over it,
// otherwise the higher DAG height wins, otherwise the larger value bytes.
// No wall clock decides a conflict. Values are CBOR (core deterministic
// encoding) and are validated on write and on read.
//
// Customers are kept like stock, one slot per till
// (/customer/<number>/<till>/<epoch>), each field won by the hybrid
// logical clock of its edit, because go-ds-crdt's own tie-break is DAG
// height, not time; an erasure marker hides every slot for good
// (customer.go). Personal fields are sealed under per-customer keys that
// the caller keeps outside the CRDT (Config.CustomerKeys,
// customer_seal.go), so that deleting a key when the customer is erased
// leaves what the permanent DAG blocks hold unreadable.
//
// Stock is a PN-counter: /stock/<sku>/<till>/<epoch> holds one till's
// cumulative movement for one SKU, written only by that till; readers sum
// the slots. The epoch is random per database incarnation, so a till
// rebuilt after losing its disk never reuses an old slot. A slot value is
// the big-endian ledger seq of its last movement, then the big-endian
// total, so that at equal DAG height the later movement wins.
//
// # Invariants
//
//   - Stock keys and products are never deleted (the writer refuses it:
//     a snapshot relies on it); revocations are never deleted.
//   - Only this till writes slots with its TillID and Epoch, and only
//     through QueueMovements (ApplyMovements) and SetSlot. The
//     movements queued within one MoveInterval share one CRDT batch, one
//     DAG node; a read of stock on this till writes the queue first.
//   - Every write goes through one writer goroutine: go-ds-crdt's Put has
//     no lock and all its batches share one pending delta.
//   - A value that does not validate is never stored; a stored value that
//     does not decode is reported (ErrCorrupt) or skipped, never returned.
//
// # Replication
//
// Heads are announced on a pubsub topic by this package's own broadcaster:
// a large subscription buffer, its own echoes ignored, the final heads
// announced again after a burst of writes (pubsub drops signed messages
// beyond its validation queue), and, when a peer joins the topic, our
// heads pushed straight to it over HeadsProtocolID. When a peer announces
// a head we lack, we ask that peer once, over ProtocolID, for every block
// from that head down to what we hold (sending our heads, as git's fetch
// negotiation does); each block is checked against its CID before it is
// stored, and go-ds-crdt then walks the DAG from local storage. A block
// the walk still lacks (the announcing peer failed) is fetched the same
// way from any connected peer by the DAG service's exchange
// (peerExchange); bitswap is not used. Announcements that queue up (thousands after a
// partition heals) are coalesced per peer before they are fetched and
// walked. go-ds-crdt's MultiHeadProcessing stays off, its repair runs
// every few minutes, and the DAG is marked dirty after an unclean
// shutdown. A walk cut short (a stop, kill -9 or failed merge) would
// leave a branch half merged for good in go-ds-crdt v0.6.8; the Store
// records walks under way and finishes such a branch at run time or at
// the next start (walks.go). After an unclean shutdown the Store writes
// this till's stock slots again: go-ds-crdt merges a local write before
// it moves the heads, so a write killed in between would reach no peer.
// AnnounceTo pushes our heads to a peer the node knows to be behind.
// Stats().Pending is 0 once everything announced has been merged; Heads()
// alone does not say so.
//
// A Store that opens with an empty go-ds-crdt namespace while an admitted
// peer is connected takes the peer's namespace as a snapshot over
// SnapshotProtocolID (set, heads, every processed marker; one element of
// each stock slot) instead of walking the whole DAG, and of the old blocks
// holds only those of live elements of keys that can be deleted; a
// snapshot cut short is never taken for a whole one (snapshot.go).
//
// Change notifications come from the datastore writes go-ds-crdt commits,
// not from its PutHook, which fires before the merge is committed.
//
// # Concurrency
//
// All Store methods are safe for concurrent use. Writes return once
// merged locally; they reach peers asynchronously. Create the Store
// before the host dials any peer, and Close it before closing the
// datastore. Subscribe delivers changes without ever blocking
// replication.
//
// # Imports
//
// crdt may import ledger (and ledger/basket, whose Product is the catalog's
// stored value) and the replication libraries. It must not import
// node, ui, hw, cmd or testnet (node composes crdt, not the other way
// round), nor HTTP servers, SQL drivers or the DHT; imports_test.go checks
// this.
package crdt
