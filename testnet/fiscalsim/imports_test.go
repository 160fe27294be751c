package fiscalsim_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

func TestImports(t *testing.T) {
	testkit.Imports(t, ".").OnlyFrom("github.com/tillmesh/tillmesh", "the simulator speaks the reference provider's wire format, nothing else",
		"github.com/tillmesh/tillmesh/node/outbox/fiscal")
}
