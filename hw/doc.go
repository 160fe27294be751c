// Package hw is the till's hardware layer: receipt printers, cash drawers,
// barcode scanners, customer displays and scales.
//
// The device interfaces (Printer, Drawer, Scanner, Display, Scale) are
// small and owned by their consumers: the print queue needs a Printer, the
// node a Drawer, a Scanner, a Display and a Scale. hw supplies drivers
// for them and a [Hub] that composes a till's devices from its
// configuration ([File], [DeviceConfig]).
//
// Drivers talk to a [Link], a byte stream with deadlines that hides the
// transport: a serial port (go.bug.st/serial, with write deadlines added
// because the library has none, and reads that never return 0 bytes
// without an error), raw TCP on port 9100 (short timeouts, one job per
// connection, closed after each job), a USB printer-class file such as
// /dev/usb/lp0 (opened as a file; a write that blocks while the printer
// is offline is abandoned at its deadline) or a pseudo-terminal. Devices
// are found by USB IDs or a stable path, afresh on every reconnect.
//
// Nothing in hw can block or fail a sale. The sale is committed first;
// its receipt then goes to a persisted print [Queue] (a directory of job
// files written with fsync and rename). Each job is sent only after the
// printer said it is ready (DLE EOT), and checked again after; paper out,
// offline or no reply hold the queue and show in [Hub.Status]. A job that
// may have printed in part is printed again marked COPY: a duplicate
// beats a lost receipt. A damaged job file, or a file standing where the
// queue's directory belongs, is moved aside and kept: the queue always
// opens. The drawer kick never waits behind queued
// receipts: it is a real-time DLE DC4 sent between two chunks of a job in
// progress, or an ESC p sent alone after a status check. Display updates
// are best effort. Each streaming device reconnects with backoff after an
// unplug and reports its state.
//
// Subpackages:
//
//   - [github.com/tillmesh/tillmesh/hw/escpos]: the ESC/POS encoder, the
//     status decoder and a parser of ESC/POS streams. Pure.
//   - [github.com/tillmesh/tillmesh/hw/receipt]: the receipt layout for 58
//     and 80 mm paper, with the QR code that carries the EventID and the
//     till's signature. Pure.
//   - [github.com/tillmesh/tillmesh/hw/scan]: the line assembler for
//     serial scanners. Pure. What a scanned code means (GS1 check digits,
//     variable-measure codes) is ledger/basket's.
//   - [github.com/tillmesh/tillmesh/hw/display]: pole display command sets
//     (Epson, CD5220) and transliteration. Pure.
//   - [github.com/tillmesh/tillmesh/hw/scale]: CAS and Toledo 8217 frames.
//     Pure.
//   - [github.com/tillmesh/tillmesh/hw/sim]: simulated devices, in process,
//     on pseudo-terminals or on loopback TCP.
//
// Concurrency: drivers, the queue and the Hub are safe for concurrent
// use; their Run methods own the goroutines that talk to devices.
//
// hw may import the ledger (for receipts) and its own subpackages, never
// node, ui or crdt.
package hw
