package testnet_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

func TestImports(t *testing.T) {
	testkit.Imports(t, ".").OnlyFrom("github.com/tillmesh/tillmesh", "testnet drives tills, not hardware or commands",
		"github.com/tillmesh/tillmesh/crdt/...", "github.com/tillmesh/tillmesh/ledger/...",
		"github.com/tillmesh/tillmesh/node/...", "github.com/tillmesh/tillmesh/ui/...",
		"github.com/tillmesh/tillmesh/testnet/...")
}
