// Package basket holds the selling rules: what a product is, how a
// scanned or typed code finds one (GS1 check digits, variable-measure
// codes), how a basket is priced (line and cart discounts, the store's
// discount limit, tax included or added) and how tenders pay for it
// (change from cash only). The till's UI, its node, the CRDT catalog, HQ,
// the demo and the testnet all use these rules; none keeps a copy.
//
// A sale rule is a change here and in its test, nowhere else. The
// ledger checks what an event must hold whatever made it (ledger.Sale's
// totals, that tenders cover the total); basket decides what a till
// sells and at what price before the event is made.
//
// Invariants:
//   - A [Code] comes back from [Parse] only with a verified check digit,
//     and a GTIN-shaped barcode (8, 12, 13 or 14 digits) is stored in a
//     product only with a right check digit ([CheckBarcode]).
//   - [Price] never overflows: every amount is bounded by the ledger's
//     limits (ledger.MaxPrice, MaxQty, MaxLines), and a basket outside
//     them is an error, never a wrapped-around total.
//   - A discount never takes more than what it applies to; one above the
//     limit without an approver is listed in [Priced.Over].
//   - [Pay] never gives negative change, and change comes from cash only.
//
// The package is pure: no clock, randomness, I/O, goroutines or logging;
// it imports only ledger and the standard library, and is safe for
// concurrent use. Errors wrap [ErrInvalid], [ErrFormat] or
// [ErrCheckDigit]; their text is written for the cashier.
package basket
