// Package node is the composition root of a till: it wires the ledger
// store (node/ledgerdb), the libp2p host, mDNS discovery, the CRDT
// inventory state (crdt), ledger sync, the HQ relay, the web UI (ui) and
// the hardware (hw) into one process, and owns their goroutines.
//
// So far the ledger store exists; the mesh, relay, UI and hardware wiring
// land with their issues. Subpackages appear as they earn it: ledgerdb
// (durable ledger), p2p, discovery, sync, relay, hq.
package node
