// Package scan assembles scanner lines from the bytes a serial or USB-CDC
// scanner sends. What a line means (GS1 check digits, variable-measure
// codes) is a selling rule and lives in ledger/basket.
//
// Invariants: a [LineAssembler] gives the same lines however the bytes
// are split between reads, never returns an empty line, a line with CR or
// LF, or one longer than its limit, and holds at most that limit in
// memory.
//
// Concurrency: a LineAssembler belongs to one goroutine at a time.
//
// The package is pure: no I/O, no goroutines, no logging, no clock. It
// imports only errors and fmt.
package scan
