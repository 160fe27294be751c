package crdt_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// TestImports keeps crdt a leaf of the node: it must not reach up into the
// packages that compose it, nor pull in heavy things a replicated
// inventory has no business with. It checks the non-test dependency
// closure, as the linker sees it.
func TestImports(t *testing.T) {
	const mod = "github.com/tillmesh/tillmesh/"
	g := testkit.Imports(t, ".")
	g.Never("node composes crdt", mod+"node/...")
	g.Never("ui talks to node, not crdt", mod+"ui/...")
	g.Never("hardware is not inventory state", mod+"hw/...")
	g.Never("commands are the top", mod+"cmd/...")
	g.Never("test harness", mod+"testnet/...")
	g.Never("brings a DHT and reprovider; crdt builds its own block service", "github.com/hsanjuan/ipfs-lite/...")
	g.Never("no DHT on a store LAN", "github.com/libp2p/go-libp2p-kad-dht/...")
	g.Never("the host is the caller's; PSK rules out QUIC", "github.com/quic-go/...")
	g.Never("no WebRTC", "github.com/pion/...")
	g.Never("HQ storage", "github.com/lib/pq/...")
	g.Never("UI tests", "github.com/chromedp/...")
	g.Never("hardware drivers", "go.bug.st/serial/...")
	g.Never("command line", "github.com/urfave/cli/...")
	g.Never("discovery is the node's", "github.com/hashicorp/mdns/...")
	g.Never("no SQL here", "database/sql") // database/sql/driver is fine: google/uuid needs its interfaces
	g.Never("no HTTP test servers in production code", "net/http/httptest/...")
	// The host and pubsub come from the caller: the libp2p constructor
	// (and the transports it links) must not.
	g.Never("take a host.Host instead of the libp2p constructor", "github.com/libp2p/go-libp2p")
}
