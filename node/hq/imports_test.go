package hq_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// TestImports keeps HQ apart from the till, and the relay wire (hqapi)
// free of HQ's storage and the mesh.
func TestImports(t *testing.T) {
	const mod = "github.com/tillmesh/tillmesh/"
	testkit.Imports(t, ".").Never("HQ is not a till",
		mod+"node", mod+"node/relay", mod+"node/p2p", mod+"node/ledgerdb", mod+"ui", mod+"hw", mod+"cmd", mod+"testnet")
	testkit.Imports(t, "hqapi").Never("a till imports hqapi without HQ's storage or the mesh",
		mod+"node/hq", mod+"node", mod+"crdt", "github.com/lib/pq",
		"github.com/dgraph-io/badger/v4", "github.com/libp2p/go-libp2p-pubsub", "net/http/httptest")
	testkit.Imports(t, "../relay").Never("the relay is the till's side of HQ",
		mod+"node/hq", mod+"node", mod+"node/p2p", mod+"ui", mod+"hw", "github.com/lib/pq", "net/http/httptest")
}
