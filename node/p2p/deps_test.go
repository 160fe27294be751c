package p2p

import (
	"os"
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
		// the mesh speaks Noise only (0.28 MB; TestEarlierReleaseSecurityStillConnects)
		"github.com/libp2p/go-libp2p/p2p/security/tls",
	}
	deps := string(out)
	for _, f := range forbidden {
		if strings.Contains(deps, f) {
			t.Errorf("cmd/tillmesh links %s", strings.TrimSpace(f))
		}
	}
}

// TestBinaryKeepsDeadCodeElimination fails when a function the tillmesh
// binary links looks methods up by name at run time (the linker marks it
// <ReflectMethod>): the linker then keeps every exported method of every
// type it keeps, about 4 MB of the binary. text/template does (so the CLI's
// help is written without it: cmd/third_party/urfave-cli-v2), and so did
// google.golang.org/protobuf before v1.36.12 together with Go 1.26's
// reflect iterators. BENCHMARKS.md, "Footprint".
func TestBinaryKeepsDeadCodeElimination(t *testing.T) {
	if testing.Short() {
		t.Skip("links the tillmesh binary")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	// The flags of `make build`, which the size target is about.
	out, err := exec.Command(goBin, "build", "-trimpath", "-tags", "urfave_cli_no_docs",
		"-ldflags=-dumpdep", "-o", os.DevNull, "github.com/tillmesh/tillmesh/cmd/tillmesh").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%.2000s", err, out)
	}
	marked := map[string]bool{}
	for line := range strings.Lines(string(out)) {
		from, _, ok := strings.Cut(line, " <ReflectMethod> -> ")
		if ok && !marked[from] {
			marked[from] = true
			t.Errorf("cmd/tillmesh links %s, which looks methods up by name: the linker keeps every exported method", from)
		}
	}
}

// TestBinaryNeedsNoCgo keeps `make build` static (CGO_ENABLED=0: no libc
// or dynamic loader resident in a till, BENCHMARKS.md "Footprint"): no
// package the binary links may need cgo but the standard library's,
// which has pure Go fallbacks (the DNS resolver, os/user).
func TestBinaryNeedsNoCgo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	cmd := exec.Command(goBin, "list", "-deps", "-tags", "urfave_cli_no_docs",
		"-f", "{{if .CgoFiles}}{{if not .Standard}}{{.ImportPath}}{{end}}{{end}}",
		"github.com/tillmesh/tillmesh/cmd/tillmesh")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1") // list what would use cgo if it could
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("cmd/tillmesh links packages with cgo files, which `make build` (CGO_ENABLED=0) leaves out or builds differently:\n%s", s)
	}
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mk), "CGO_ENABLED=0 $(GO) build $(BUILDFLAGS) -o $(BIN) ./cmd/tillmesh") {
		t.Error("make build no longer builds with CGO_ENABLED=0")
	}
}
