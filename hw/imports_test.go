package hw_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// TestImports keeps hw below the node: it may use the ledger and its own
// subpackages, never the node, the UI, the CRDT or the commands.
func TestImports(t *testing.T) {
	for _, dir := range []string{".", "sim"} {
		testkit.Imports(t, dir).Never("hw is below the node",
			"github.com/tillmesh/tillmesh/node/...", "github.com/tillmesh/tillmesh/ui/...",
			"github.com/tillmesh/tillmesh/crdt/...", "github.com/tillmesh/tillmesh/cmd/...",
			"github.com/tillmesh/tillmesh/testnet/...")
	}
}
