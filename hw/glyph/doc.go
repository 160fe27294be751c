// Package glyph draws a line of text as a raster image for an ESC/POS
// printer, and reads such an image back into text.
//
// A printer prints text through one single-byte code page; a character
// the page lacks (Uzbek Latin's ʻ U+02BB and ʼ U+02BC are in none, the
// euro sign is not in CP437, Cyrillic is not in CP858) would print as
// "?". hw/receipt prints such a line as a GS v 0 raster image drawn here
// instead: the whole line, at the printer's width in dots, in cells of
// 12 × 24 dots (the size of an ESC/POS printer's font A, so 48 cells fill
// 576 dots of 80 mm paper and 32 fill 384 dots of 58 mm), scaled by the
// line's character size, so that the image lines up with the text lines
// around it.
//
// The glyphs are the Go Mono and Go Mono Bold fonts (golang.org/x/image's
// gofont: Latin, Greek and Cyrillic, the WGL4 set) at 20 px, whose
// advance is exactly 12 px and whose ascent and descent exactly 24 px.
// They are not linked: internal/gencells (`go generate`) renders every
// glyph once into cells.bin, 73 kB of dots that the package embeds, and
// TestCellsMatchFonts renders the fonts again and compares, so the table
// cannot drift from the fonts of go.mod's golang.org/x/image.
// Two letters the fonts lack are drawn with the glyph of the same shape
// (Unicode gives both as their look-alikes): ʻ U+02BB (turned comma) as
// ‘ U+2018 and ʼ U+02BC (apostrophe) as ’ U+2019. A character with no
// glyph is drawn as "?" and reported.
//
// [Face.Read] and [Face.Transcribe] do the reverse for the printer
// simulator and receipt tests: they match each cell of a raster image
// against every glyph and give back the text, so that a test sees the
// words a raster line says. Reading sees dots, not intentions: a line
// reads back left-aligned with its leading spaces, and where two
// characters share a glyph (Latin A and Cyrillic А, ‘ and ʻ) it picks the
// one of the script around it.
//
// Invariants: Draw is deterministic; what Draw draws, Read reads back
// (up to look-alikes); Read never panics on any image and reads only
// images made of whole glyph cells.
//
// Concurrency: a Face is immutable once made and safe for concurrent
// use. The package is pure: no I/O, no goroutines, no logging, no clock.
// It imports hw/escpos for its Raster and Line types; only its generator
// and tests import golang.org/x/image.
package glyph
