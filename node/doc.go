// Package node is the composition root of a till: it wires the ledger
// store (node/ledgerdb), the libp2p host, mDNS discovery, the CRDT
// inventory state (crdt), ledger sync, the HQ relay, the web UI (ui) and
// the hardware (hw) into one process, and owns their goroutines.
//
// Subpackages: ledgerdb (the durable ledger), p2p (host, admission,
// mDNS), ledgersync (event gossip and pulls), relay (HQ uplink and
// downlink), outbox (fiscal registration and notifications, sent once
// from the ledger above a replicated cursor; wired in outbox.go), hq (the
// HQ node kind), pki (store file, keys, certificates,
// enrolment), pinhash (argon2id PIN hashes), badgeropen (every Badger
// open). docs/ARCHITECTURE.md draws the whole.
//
// What node still holds besides the wiring (till.go, inventory.go,
// hw.go): the ui.Till adapter (uiapi.go, sell.go, staff.go), the demo
// catalog (catalog.go), catalog import (catalogimport.go) and revocation
// (revoke.go). A sale is node.Sell: look the lines up in the catalog, price
// them by ledger/basket's rules, record the event (Record: one fsynced
// append, the idempotency key looked up there), then stock, gossip and
// the receipt.
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
//     a snapshot in the ledger database (ledgerdb.UpdateSnapshot, one
//     record each, fsynced), brought in step half a second after any of
//     them changes and on shutdown. Stock needs no snapshot: it is the
//     fold of the ledger (repairStock).
//   - A salvaged, rebuilt or emptied inventory is restored in Run. Peers
//     hold the store's inventory, deletions included, so they win: with
//     no peer admitted within 2 s the till writes back every snapshot
//     record it lacks (a lone till, or a store rebooting without its
//     other tills), so staff can log in and sell; with peers it waits
//     for their inventory, and only if it is still empty after 3 s (the
//     whole store lost its inventories) writes the snapshot back. A
//     record deleted elsewhere after the till's last snapshot comes back
//     in the first case (go-ds-crdt is add-wins) and must be deleted
//     again. The snapshot is not trimmed while a restore is pending.
//   - What start-up recovered shows in Status().Problems.
//
// Tools for a stopped till (staff add, catalog import) open it with
// OpenStopped: New with no HTTP, mDNS, peers or devices, so their writes
// go through the UI's own code and reach the mesh when the till next runs.
//
// Revocation (revoke.go): RevokeTill signs a ledger.Revocation with the
// store CA; UploadRevocation checks one and puts it in the CRDT. A till
// acts only on revocations whose CA signature verifies (any member of the
// mesh can write the CRDT, only the CA can revoke); it keeps the verified
// list in memory, reloaded on every CRDT revocation change, for the p2p
// gater (refuse and drop the till) and ledger sync (refuse its events
// above AfterSeq). Events of the till it already held stay.
//
// Parked sales (parked.go) are kept by the till that parked them, in its
// ledger database, and handed out once to whichever till asks over
// /tillmesh/parked/1. Serial scans feed the UI's cart and the scale is
// read on demand (hw.go); every drawer event prints its slip (slips.go).
//
// Spent once (grants.go, balances.go, docs/ARCHITECTURE.md "Spent
// once"): Record first takes the owner's grant for a refund or a card
// redemption (the till that made the sale or issued the card; over
// node/grant when it is another till), then records the event naming
// it. A till's grant book serializes every grant under one mutex and
// stores each (ledgerdb.PutGrant, fsynced) before answering; Record never
// holds its own lock while it waits for an owner. Offline refunds go
// through the store's policy and limit; card tenders of a sale are
// redeemed before the sale and given back if the sale is not recorded.
package node
