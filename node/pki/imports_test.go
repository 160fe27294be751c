package pki_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// TestImports: the store's keys and certificates sit on the ledger's types
// and nothing of the till.
func TestImports(t *testing.T) {
	testkit.Imports(t, ".").OnlyFrom("github.com/tillmesh/tillmesh", "pki is below the node",
		"github.com/tillmesh/tillmesh/ledger", "github.com/tillmesh/tillmesh/node/badgeropen")
}
