package hq_test

import (
	"os/exec"
	"strings"
	"testing"
)

// depsOf returns the non-test dependency closure of a package.
func depsOf(t *testing.T, pkg string) []string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command(goBin, "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestImports keeps HQ apart from the till, and the relay wire (hqapi)
// free of HQ's storage and the mesh.
func TestImports(t *testing.T) {
	const mod = "github.com/tillmesh/tillmesh/"
	tests := []struct {
		pkg       string
		forbidden []string
	}{
		{".", []string{mod + "node", mod + "node/relay", mod + "node/p2p", mod + "node/ledgerdb", mod + "ui", mod + "hw",
			mod + "cmd", mod + "testnet"}},
		{"./hqapi", []string{mod + "node/hq", mod + "node", mod + "crdt", "github.com/jackc/pgx/v5",
			"github.com/dgraph-io/badger/v4", "github.com/libp2p/go-libp2p-pubsub", "net/http/httptest"}},
		{"../relay", []string{mod + "node/hq", mod + "node", mod + "node/p2p", mod + "ui", mod + "hw",
			"github.com/jackc/pgx/v5", "net/http/httptest"}},
	}
	for _, tc := range tests {
		deps := map[string]bool{}
		for _, d := range depsOf(t, tc.pkg) {
			deps[d] = true
		}
		for _, f := range tc.forbidden {
			if deps[f] {
				t.Errorf("%s depends on %s", tc.pkg, f)
			}
		}
	}
}
