// Package display encodes text for customer pole displays (VFD, two lines
// of twenty characters) and decodes what such a display would show.
//
// Two command sets are spoken, chosen per device: Epson's ESC/POS for
// customer displays (US $ n m positions the cursor) and the CD5220 set
// (ESC Q A / ESC Q B write the upper and lower line). Text is
// transliterated to what the display's code page can show: characters
// the page has are kept, others become their closest ASCII ("€" -> "EUR",
// "ß" -> "ss", "é" -> "e", Cyrillic -> Latin), and only what has no
// transliteration becomes '?', which [Encode] reports.
//
// A [Screen] decodes a stream of display commands into the two lines a
// display would show; the simulator and the tests use it.
//
// Invariants: [Frame] always writes exactly Columns characters per line
// and never a control byte inside text; a Screen never panics, keeps its
// cursor on the screen and holds a bounded amount of input.
//
// The package is pure: no I/O, no goroutines, no logging, no clock.
package display
