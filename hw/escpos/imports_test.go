package escpos_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

func TestImports(t *testing.T) {
	testkit.Imports(t, ".").Only("escpos is pure: no I/O, no clock, no logging, no goroutines",
		"bytes", "errors", "fmt", "slices", "strconv", "strings", "time", "unicode/utf8",
		"golang.org/x/text/encoding/charmap", "github.com/skip2/go-qrcode",
		"github.com/tillmesh/tillmesh/ledger/basket") // GS1 check digits are a selling rule, kept once
}
