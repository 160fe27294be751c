// Package node is the composition root of a till: it wires the ledger
// store (node/ledgerdb), the libp2p host, mDNS discovery, the CRDT
// inventory state (crdt), ledger sync, the HQ relay, the web UI (ui) and
// the hardware (hw) into one process, and owns their goroutines.
//
// Subpackages: ledgerdb (the durable ledger), p2p (host, admission,
// mDNS), ledgersync (event gossip and pulls), relay (HQ uplink and
// downlink), hq (the HQ node kind). docs/ARCHITECTURE.md draws the whole.
package node
