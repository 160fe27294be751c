package receipt_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

func TestImports(t *testing.T) {
	testkit.Imports(t, ".").Only("receipt is pure: no I/O, no clock, no logging, no goroutines",
		"encoding/base64", "errors", "fmt", "slices", "strings", "sync", "time", "unicode", "unicode/utf8",
		"golang.org/x/text/unicode/norm",
		"github.com/tillmesh/tillmesh/hw/escpos", "github.com/tillmesh/tillmesh/hw/glyph",
		"github.com/tillmesh/tillmesh/ledger", "github.com/tillmesh/tillmesh/ui/i18n")
}
