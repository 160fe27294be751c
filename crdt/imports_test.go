package crdt

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps crdt a leaf of the node: it must not reach up into the
// packages that compose it, nor pull in heavy things a replicated
// inventory has no business with. It checks the non-test dependency
// closure, as the linker sees it.
func TestImports(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps returned %d packages", len(deps))
	}
	forbidden := []struct{ prefix, why string }{
		{"github.com/tillmesh/tillmesh/node", "node composes crdt"},
		{"github.com/tillmesh/tillmesh/ui", "ui talks to node, not crdt"},
		{"github.com/tillmesh/tillmesh/hw", "hardware is not inventory state"},
		{"github.com/tillmesh/tillmesh/cmd", "commands are the top"},
		{"github.com/tillmesh/tillmesh/testnet", "test harness"},
		{"github.com/hsanjuan/ipfs-lite", "brings a DHT and reprovider; crdt builds its own block service"},
		{"github.com/libp2p/go-libp2p-kad-dht", "no DHT on a store LAN"},
		{"github.com/quic-go", "the host is the caller's; PSK rules out QUIC"},
		{"github.com/pion", "no WebRTC"},
		{"github.com/jackc/pgx", "HQ storage"},
		{"github.com/chromedp", "UI tests"},
		{"go.bug.st/serial", "hardware drivers"},
		{"github.com/urfave/cli", "command line"},
		{"github.com/hashicorp/mdns", "discovery is the node's"},
		{"database/sql", "no SQL here"}, // database/sql/driver is fine: google/uuid needs its interfaces
		{"net/http/httptest", "no HTTP test servers in production code"},
	}
	for _, d := range deps {
		for _, f := range forbidden {
			under := strings.HasPrefix(d, f.prefix+"/") && f.prefix != "database/sql"
			if d == f.prefix || under {
				t.Errorf("crdt depends on %s: %s", d, f.why)
			}
		}
	}
	// The host and pubsub come from the caller: the libp2p constructor
	// (and the transports it links) must not.
	for _, d := range deps {
		if d == "github.com/libp2p/go-libp2p" {
			t.Error("crdt imports the libp2p constructor; take a host.Host instead")
		}
	}
}
