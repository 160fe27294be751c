// Package receipt lays out a sale's receipt for an ESC/POS printer.
//
// A [Receipt] is what the till prints: the store header, till, cashier,
// receipt number and time, the lines with their discounts, the totals,
// tax by rate, the tenders and change, a footer, a CODE128 barcode of the
// receipt number (ledger.ReceiptCode: the receipt screen shows the same
// code; a Receipt queued by an earlier release prints its Number) and a
// QR code that carries the sale's EventID and the
// till's signature, so that anyone can check the receipt against the
// ledger later ([QRPayload], [ParseQR]). [FromSale] fills one from a
// signed sale event; a Receipt is plain data and travels as JSON in the
// print queue.
//
// [Render] turns a Receipt into ESC/POS commands for a [Layout]: 32
// columns on 58 mm paper or 48 on 80 mm, the printer's code page, native
// or raster QR codes, and a COPY marking for reprints. The commands come
// split into segments at command boundaries, so a driver can slip a
// real-time command (a drawer kick) between two segments without cutting
// a command in half. Characters the code page lacks are printed as the
// replacement byte and reported in [Printout.Unencodable].
//
// Invariants: Render is deterministic (the same Receipt and Layout give
// the same bytes; it never reads the clock), every line it prints fits the
// layout's width, and the money it prints is exactly the ledger's.
//
// The package is pure: no I/O, no goroutines, no logging, no clock. It
// imports the ledger for its types, hw/escpos for the encoder, and
// golang.org/x/text/unicode/norm.
package receipt
