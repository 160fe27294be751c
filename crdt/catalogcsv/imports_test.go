package catalogcsv_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// TestImports keeps the package pure: the standard library (no os, net or
// time), crdt for the Product type and ledger/basket for its rules.
func TestImports(t *testing.T) {
	testkit.Imports(t, ".").Only("catalogcsv is pure", "encoding/csv", "errors", "fmt", "io", "slices", "sort", "strconv", "strings",
		"unicode/...", "github.com/tillmesh/tillmesh/crdt", "github.com/tillmesh/tillmesh/ledger", "github.com/tillmesh/tillmesh/ledger/basket")
}
