package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/urfave/cli/v2"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/grant"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/ledgersync"
	"github.com/tillmesh/tillmesh/node/p2p"
)

// release is the tillmesh release, set at link time by the Makefile:
// -ldflags "-X main.release=$(git describe --tags --always --dirty)". It
// is the one variable the linker writes; releaseName falls back on the
// module's build information when it is empty (go build, go install).
var release string

// releaseName is this binary's release: the linker's, else the module
// version (go install module@version), else the VCS revision go build
// records, else "devel".
func releaseName() string {
	if release != "" {
		return release
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return "devel"
	}
	return "devel-" + rev + dirty
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the release, the ledger format and the wire protocol versions",
		Description: "Tills of different releases work together in one store: each libp2p protocol\n" +
			"and the HQ API carry a version, and two sides speak the newest both know.\n" +
			"Events of kinds a release does not know are kept, relayed and counted.",
		Action: func(c *cli.Context) error {
			writeVersion(c.App.Writer)
			return nil
		},
	}
}

func writeVersion(w io.Writer) {
	fmt.Fprintf(w, "tillmesh %s\n", releaseName())
	fmt.Fprintf(w, "ledger format %d (kinds: %s)\n", ledger.FormatVersion, kindNames())
	fmt.Fprintf(w, "protocols (newest first where several):\n")
	fmt.Fprintf(w, "  hello        %s\n", joinIDs(p2p.HelloProtocols()))
	fmt.Fprintf(w, "  ledger sync  %s\n", joinIDs(ledgersync.Protocols()))
	fmt.Fprintf(w, "  grants       %s\n", joinIDs(grant.Protocols()))
	fmt.Fprintf(w, "  crdt heads   %s\n", crdt.HeadsProtocolID)
	fmt.Fprintf(w, "  crdt blocks  %s\n", crdt.ProtocolID)
	fmt.Fprintf(w, "  hq api       %s\n", hqapi.FormatVersions(hqapi.Versions()))
}

func kindNames() string {
	s := make([]string, len(ledger.Kinds))
	for i, k := range ledger.Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, " ")
}

func joinIDs(ids []protocol.ID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return strings.Join(s, " ")
}
