package ledgersync_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// TestImports: ledger sync moves verified events between the ledger stores
// of tills over a host the caller gives; it knows nothing of the CRDT, the
// UI, hardware or HQ.
func TestImports(t *testing.T) {
	g := testkit.Imports(t, ".")
	g.OnlyFrom("github.com/tillmesh/tillmesh", "ledger sync uses only ledger and the ledger store",
		"github.com/tillmesh/tillmesh/ledger", "github.com/tillmesh/tillmesh/node/ledgerdb")
	g.Never("the host is the caller's: no libp2p constructor, no DHT", "github.com/libp2p/go-libp2p",
		"github.com/libp2p/go-libp2p-kad-dht/...")
}
