// Package escpos encodes receipts as ESC/POS commands, decodes printer
// status replies, and parses ESC/POS streams back into text and events.
//
// A [Builder] appends commands to a byte buffer for one printer, described
// by a [Config]: the code page table number and character set, whether to
// leave the Chinese double-byte mode after ESC @, whether QR codes are
// native (GS ( k) or rendered on the host as a raster image (GS v 0), and
// the paper width in dots.
//
// [DecodeStatus] turns the one-byte replies to DLE EOT n into a [Status].
// A [Decoder] (or [Parse]) reads an ESC/POS stream back into the [Line]s a
// printer would print and the [Event]s (cut, barcode, QR code, drawer pulse,
// code page, raster image, status query) it would act on; simulators and
// receipt tests use it to check what a receipt says.
//
// Invariants:
//   - Text never reaches the printer as a command: control characters and
//     characters the code page cannot encode are printed as
//     [Config.Replacement] and reported to the caller as an
//     [*UnencodableError], never silently.
//   - A method that rejects its arguments returns an error wrapping one of
//     the package's sentinel errors and appends nothing.
//   - A status is known only from a well-formed reply: no reply, or a byte
//     that does not match the fixed bits 0xx1xx10, leaves every field
//     [Unknown], and an unknown status is never ready.
//   - The decoder never panics and allocates in proportion to its input;
//     a command cut short is reported as [ErrTruncated].
//
// Concurrency: a Builder or Decoder belongs to one goroutine at a time.
//
// The package is pure: no I/O, no goroutines, no logging, no clock. It
// imports only the standard library's formatting and text packages,
// golang.org/x/text/encoding/charmap and github.com/skip2/go-qrcode.
package escpos
