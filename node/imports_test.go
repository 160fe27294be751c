package node_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// TestImports keeps node the till's composition root: it composes
// everything below it, and nothing above it or beside a till.
func TestImports(t *testing.T) {
	const mod = "github.com/tillmesh/tillmesh/"
	g := testkit.Imports(t, ".")
	g.Never("commands and the testnet compose the node, not the other way round", mod+"cmd/...", mod+"testnet/...")
	g.Never("HQ is not a till: a till talks to it through node/relay and hqapi", mod+"node/hq")
	g.Never("a till links no PostgreSQL, browser driver or command-line parser",
		"github.com/lib/pq/...", "github.com/chromedp/...", "github.com/urfave/cli/...")
	g.Never("no DHT, QUIC or test servers in a till", "github.com/hsanjuan/ipfs-lite/...",
		"github.com/libp2p/go-libp2p-kad-dht/...", "github.com/quic-go/...", "net/http/httptest")
}
