package p2p_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

func TestImports(t *testing.T) {
	testkit.Imports(t, ".").OnlyFrom("github.com/tillmesh/tillmesh", "p2p may import only ledger from this module",
		"github.com/tillmesh/tillmesh/ledger")
}
