package hw_test

import (
	"os"
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// TestImports keeps hw below the node: it may use the ledger, its own
// subpackages and ui/i18n (pure: the words and number formats receipts
// print in the store's language), never the node, the rest of the UI,
// the CRDT or the commands.
func TestImports(t *testing.T) {
	forbidden := []string{"github.com/tillmesh/tillmesh/node/...", "github.com/tillmesh/tillmesh/ui",
		"github.com/tillmesh/tillmesh/crdt/...", "github.com/tillmesh/tillmesh/cmd/...",
		"github.com/tillmesh/tillmesh/testnet/..."}
	entries, err := os.ReadDir("../ui")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && e.Name() != "i18n" {
			forbidden = append(forbidden, "github.com/tillmesh/tillmesh/ui/"+e.Name()+"/...")
		}
	}
	for _, dir := range []string{".", "sim", "receipt", "glyph"} {
		testkit.Imports(t, dir).Never("hw is below the node", forbidden...)
	}
}
