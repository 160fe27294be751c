package i18n_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// TestImports keeps i18n pure and small: the ledger's Money and the
// standard library. Its CLDR data is a generated table (cldr_gen.go);
// golang.org/x/text is imported only by the generator and the tests.
func TestImports(t *testing.T) {
	testkit.Imports(t, ".").OnlyFrom(testkit.Modules, "i18n uses only ledger",
		"github.com/tillmesh/tillmesh/ledger")
}
