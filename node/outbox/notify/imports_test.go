package notify_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

func TestImports(t *testing.T) {
	testkit.Imports(t, ".").OnlyFrom("github.com/tillmesh/tillmesh", "a notifier knows the ledger and the outbox only",
		"github.com/tillmesh/tillmesh/ledger/...", "github.com/tillmesh/tillmesh/node/outbox")
}
