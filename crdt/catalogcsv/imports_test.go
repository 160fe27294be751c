package catalogcsv_test

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports keeps the package pure: the standard library (no os, net or
// time), crdt for the Product type and ledger/basket for its rules.
func TestImports(t *testing.T) {
	pkg, err := build.Default.Import("github.com/tillmesh/tillmesh/crdt/catalogcsv", ".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		switch {
		case imp == "github.com/tillmesh/tillmesh/crdt", imp == "github.com/tillmesh/tillmesh/ledger", imp == "github.com/tillmesh/tillmesh/ledger/basket":
		case imp == "os" || imp == "time" || strings.HasPrefix(imp, "net") || imp == "math/rand" || imp == "crypto/rand":
			t.Errorf("catalogcsv imports %s: it is pure", imp)
		case strings.Contains(imp, "."):
			t.Errorf("catalogcsv imports %s: only crdt and the standard library are allowed", imp)
		}
	}
}
