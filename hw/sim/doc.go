// Package sim simulates a till's devices: a receipt printer that parses
// ESC/POS back into receipts (text, with raster images that are lines of
// text read back by hw/glyph, and a PNG rendering), answers DLE EOT
// status queries and can run out of paper, go offline or stop answering;
// the cash drawer wired to it; a barcode scanner codes can be injected
// into; a customer display that decodes what it is sent; and a scale.
//
// Each simulated device serves a byte stream (Serve). Transports connect
// it to the drivers in hw the way real hardware would:
//
//   - [Port]: an in-process link, for `tillmesh till --hw sim` and fast
//     tests; it can be unplugged and plugged back.
//   - [PTY]: a pseudo-terminal pair (creack/pty), so drivers are tested
//     through a real serial.Open on a path that survives a replug.
//   - [TCPServer]: a raw TCP port 9100 on loopback, one client at a time,
//     optionally one that accepts and never reads.
//
// [NewSet] builds a simulated printer, scanner, display and scale and the
// hw device configuration that reaches them.
//
// Simulators are for tests and demos: they keep what they receive in
// memory (bounded), start goroutines, and never touch real hardware.
package sim
