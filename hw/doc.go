// Package hw is the till's hardware layer: receipt printers, cash drawers,
// barcode scanners, customer displays and scales.
//
// The device interfaces (Printer, Drawer, Scanner, Display, Scale) are small
// and owned by their consumers: the node and the print queue declare what
// they call, and hw supplies implementations. Drivers talk to a Link, a byte
// stream with deadlines that hides the transport: a serial port
// (go.bug.st/serial, with deadlines added because the library has no write
// timeout), raw TCP on port 9100 (one client at a time, closed after each
// job) or a USB printer-class file such as /dev/usb/lp0. Simulators on
// pseudo-terminals stand in for devices in tests and in testnet.
//
// Nothing in hw can block or fail a sale. The sale is committed first; the
// receipt then goes to a persisted print queue that checks the printer's
// status before and after each job, holds on paper-out, and prefers printing
// a duplicate marked COPY to losing a receipt. Display updates are best
// effort.
//
// What exists so far are the pure parts, which do no I/O, start no
// goroutines, log nothing and never read the clock:
//
//   - [github.com/tillmesh/tillmesh/hw/escpos]: the ESC/POS encoder, the
//     status decoder and a parser of ESC/POS streams for tests and
//     simulators.
//   - [github.com/tillmesh/tillmesh/hw/scan]: barcode check digits, GS1
//     variable-measure codes and the line assembler for serial scanners.
//
// The device interfaces, the Link, the drivers, the print queue and the
// simulators come later and are built on these.
package hw
