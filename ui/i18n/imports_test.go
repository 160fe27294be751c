package i18n_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// TestImports keeps i18n pure and small: CLDR data from golang.org/x/text,
// the ledger's Money, the standard library.
func TestImports(t *testing.T) {
	testkit.Imports(t, ".").OnlyFrom(testkit.Modules, "i18n uses only golang.org/x/text and ledger",
		"github.com/tillmesh/tillmesh/ledger", "golang.org/x/text/currency", "golang.org/x/text/message",
		"golang.org/x/text/number", "golang.org/x/text/language", "golang.org/x/text/feature/plural")
}
