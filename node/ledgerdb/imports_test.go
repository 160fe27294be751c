package ledgerdb_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// TestImports: ledgerdb imports ledger, Badger and node/badgeropen; never
// node, ui or hw.
func TestImports(t *testing.T) {
	testkit.Imports(t, ".").OnlyFrom("github.com/tillmesh/tillmesh", "the ledger store sits on ledger and Badger only",
		"github.com/tillmesh/tillmesh/ledger", "github.com/tillmesh/tillmesh/node/badgeropen")
}
