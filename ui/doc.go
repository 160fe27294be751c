// Package ui serves a till's local web interface: the JSON API under /api
// that the pages, the test tools and the testnet harness use, and (with
// the till UI issue) the embedded cashier and manager pages.
//
// ui defines the Till interface it needs; node implements it. ui imports
// ledger for its types and never node, crdt or hw. Handlers change nothing
// on a malformed request and answer JSON errors {"error": "reason"} with
// the right status. Bound to 127.0.0.1 by default (see cmd).
package ui
