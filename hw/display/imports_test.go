package display_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

func TestImports(t *testing.T) {
	testkit.Imports(t, ".").Only("display is pure: no I/O, no clock, no logging, no goroutines",
		"errors", "fmt", "strings", "unicode", "unicode/utf8",
		"golang.org/x/text/encoding/charmap", "golang.org/x/text/unicode/norm",
		"github.com/tillmesh/tillmesh/hw/escpos")
}
