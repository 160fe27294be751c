// Package node is the composition root of a till: it wires the ledger
// store (node/ledgerdb), the libp2p host, mDNS discovery, the CRDT
// inventory state (crdt), ledger sync, the HQ relay, the web UI (ui) and
// the hardware (hw) into one process, and owns their goroutines.
//
// So far the ledger store exists; the mesh, relay, UI and hardware wiring
// land with their issues. Subpackages appear as they earn it: ledgerdb
// (durable ledger), p2p, discovery, sync, relay, hq.
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
package node
