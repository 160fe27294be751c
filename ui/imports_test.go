package ui_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// TestImports keeps ui on its side of the architecture: of this module it
// may use ledger and ledger/basket for its types and selling rules, and
// backoff, and i18n for words and number formats; never node, crdt or hw (node implements ui's Till interface,
// not the other way round). Other modules are not for ui either.
func TestImports(t *testing.T) {
	testkit.Imports(t, ".").OnlyFrom(testkit.Modules, "ui uses only ledger and the standard library",
		"github.com/tillmesh/tillmesh/ledger", "github.com/tillmesh/tillmesh/ledger/basket",
		"github.com/tillmesh/tillmesh/ui/backoff", "github.com/tillmesh/tillmesh/ui/i18n")
}
