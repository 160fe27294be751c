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
// A receipt prints in its Lang, the store's language: every word from
// the catalog's receipt.* keys (ui/i18n/catalog/receipt.<lang>.json,
// looked up with [T]), amounts and times formatted by ui/i18n for that
// language and the receipt's currency (CLDR digits: EUR 2, UZS 0).
// A report's row labels are made in that language by whoever builds it
// ([FromShiftClose], the node's slips).
//
// [Render] turns a Receipt into ESC/POS commands for a [Layout]: 32
// columns on 58 mm paper or 48 on 80 mm, the printer's code page, native
// or raster QR codes, and a copy marking for reprints. The commands come
// split into segments at command boundaries, so a driver can slip a
// real-time command (a drawer kick) between two segments without cutting
// a command in half. A line with characters the code page lacks prints
// as a raster image of the line drawn by hw/glyph, in the style and
// alignment in force, in bands ([Printout.Rastered]); only a character
// the font lacks too (or every one, with Layout.TextOnly) prints as the
// replacement byte ([Printout.Unencodable]).
//
// The receipt is laid out as a sequence of parts (header, lines,
// totals, tax bands, trailer with footer, barcode, QR code and ID), each
// a method of the writer that appends whole commands; a new element (a
// second QR code, a logo) is one more such method.
//
// Invariants: Render is deterministic (the same Receipt and Layout give
// the same bytes; it never reads the clock), every line it prints fits the
// layout's width, and the money it prints is exactly the ledger's.
//
// The package is pure: no I/O, no goroutines, no logging, no clock. It
// imports the ledger for its types, hw/escpos for the encoder, hw/glyph
// for raster lines, ui/i18n for the words and formats (pure too), and
// golang.org/x/text/unicode/norm. The built-in catalogs and the glyphs
// are loaded once and never change.
package receipt
