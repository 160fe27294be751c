package glyph_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// The fonts and their rasteriser (golang.org/x/image) are not imported:
// the glyphs come from cells.bin (see TestCellsMatchFonts).
func TestImports(t *testing.T) {
	testkit.Imports(t, ".").Only("glyph is pure: no I/O, no clock, no logging, no goroutines",
		"embed", "encoding/binary", "fmt", "slices", "sync", "unicode",
		"github.com/tillmesh/tillmesh/hw/escpos")
}
