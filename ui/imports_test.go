package ui_test

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports keeps ui on its side of the architecture: it may use ledger
// and ledger/basket for its types and selling rules, backoff and the standard library, never node, crdt or hw (node
// implements ui's Till interface, not the other way round).
func TestImports(t *testing.T) {
	pkg, err := build.Default.Import("github.com/tillmesh/tillmesh/ui", ".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		switch {
		case imp == "github.com/tillmesh/tillmesh/ledger", imp == "github.com/tillmesh/tillmesh/ledger/basket", imp == "github.com/tillmesh/tillmesh/ui/backoff":
		case strings.Contains(imp, "."):
			t.Errorf("ui imports %s: only ledger and the standard library are allowed", imp)
		}
	}
}
