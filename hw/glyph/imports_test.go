package glyph_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

func TestImports(t *testing.T) {
	testkit.Imports(t, ".").Only("glyph is pure: no I/O, no clock, no logging, no goroutines",
		"fmt", "image", "slices", "sync", "unicode",
		"golang.org/x/image/font", "golang.org/x/image/font/gofont/gomono", "golang.org/x/image/font/gofont/gomonobold",
		"golang.org/x/image/font/opentype", "golang.org/x/image/font/sfnt", "golang.org/x/image/math/fixed",
		"github.com/tillmesh/tillmesh/hw/escpos")
}
