// Package scan holds the barcode logic of the till's scanners: check
// digits of EAN-13, EAN-8 and UPC-A codes, GS1 variable-measure codes
// that carry a price or a weight, and the assembly of scanner lines from
// the bytes a serial or USB-CDC scanner sends.
//
// Invariants:
//   - A code is acted on only after its check digit is verified: [Parse]
//     returns a [Code] only for a well-formed code with a correct check
//     digit. UPC-A codes are normalised to EAN-13 with a leading 0, so the
//     catalogue has one key per product.
//   - Variable-measure layouts differ by country and retailer, so they are
//     configuration ([Layout]); a price check digit, when the layout has
//     one, is verified too.
//   - A [LineAssembler] gives the same lines however the bytes are split
//     between reads, never returns an empty line, a line with CR or LF, or
//     one longer than its limit, and holds at most that limit in memory.
//
// Concurrency: a LineAssembler belongs to one goroutine at a time; the
// functions are safe for concurrent use.
//
// The package is pure: no I/O, no goroutines, no logging, no clock. It
// imports only errors, fmt and strconv.
package scan
