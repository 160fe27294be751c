package p2p

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryLinksTCPOnly keeps the transports and services the store mesh
// cannot use out of the tillmesh binary: they come in through
// libp2p.New's defaults (see newLibp2pHost) and made up about half of it;
// and the larger libraries replaced to keep it small (BENCHMARKS.md,
// "Footprint").
func TestBinaryLinksTCPOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", "github.com/tillmesh/tillmesh/cmd/tillmesh").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/libp2p/go-libp2p\n", // the package with the default transports
		"github.com/libp2p/go-libp2p/config",
		"github.com/libp2p/go-libp2p/p2p/transport/quic",
		"github.com/libp2p/go-libp2p/p2p/transport/websocket",
		"github.com/libp2p/go-libp2p/p2p/transport/webtransport",
		"github.com/libp2p/go-libp2p/p2p/transport/webrtc",
		"github.com/quic-go/",
		"github.com/pion/",
		"github.com/gorilla/websocket",
		"go.uber.org/fx",
		"github.com/chromedp/", // browser tests only
		// basichost and the services it links: AutoNAT, hole punching, relay
		"github.com/libp2p/go-libp2p/p2p/host/basic",
		"github.com/libp2p/go-libp2p/p2p/host/autonat",
		"github.com/libp2p/go-libp2p/p2p/protocol/autonatv2",
		"github.com/libp2p/go-libp2p/p2p/protocol/holepunch",
		"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2",
		// the inventory's blocks travel over crdt.ProtocolID (crdt.peerExchange)
		"github.com/ipfs/boxo/bitswap",
		// HQ's PostgreSQL goes through lib/pq; pgx linked 4 MB more
		"github.com/jackc/pgx",
	}
	deps := string(out)
	for _, f := range forbidden {
		if strings.Contains(deps, f) {
			t.Errorf("cmd/tillmesh links %s", strings.TrimSpace(f))
		}
	}
}
