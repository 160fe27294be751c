// Package node is the composition root of a till: it wires the ledger
// store (node/ledgerdb), the libp2p host, mDNS discovery, the CRDT
// inventory state (crdt), ledger sync, the HQ relay, the web UI (ui) and
// the hardware (hw) into one process, and owns their goroutines.
//
// Start-up (New) returns every error, naming the file or directory at
// fault, and closes whatever it had opened; it never panics. The till's
// key must exist (enrolling creates it). A till comes back from a power
// cut at any instant:
//   - Every Badger open goes through node/badgeropen (dgraph-io/badger
//     issue 2207: a cut during an open left logs Badger would not reopen).
//   - The inventory store is never thrown away while it can be read: a
//     store that does not open is retried, then moved aside (kept, as
//     crdt.broken-<time>) and everything readable is copied into a new
//     store (its memtable logs, the unsynced tail, kept apart in
//     unreplayed/); only if nothing can be read does it start empty.
//   - Catalog, staff, settings, certificates and revocations are kept as
//     a snapshot in the ledger database (ledgerdb.PutSnapshot, fsynced),
//     rewritten half a second after any of them changes and on shutdown.
//     A salvaged, rebuilt or emptied inventory gets every record it lacks
//     written back from it, so a till with no peer and no HQ still logs
//     staff in and sells. Stock needs no snapshot: it is the fold of the
//     ledger (repairStock). A record deleted elsewhere after the last
//     snapshot comes back (go-ds-crdt is add-wins) and must be deleted
//     again.
//   - What start-up recovered shows in Status().Problems.
//
// So far the ledger store exists; the mesh, relay, UI and hardware wiring
// land with their issues. Subpackages appear as they earn it: ledgerdb
// (durable ledger), p2p, discovery, sync, relay, hq.
package node
