package sim_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

func TestImportsArePure(t *testing.T) {
	testkit.Imports(t, ".").Only("the simulator must stay pure and deterministic",
		"fmt", "math/rand/v2", "reflect", "github.com/tillmesh/tillmesh/ledger", "github.com/tillmesh/tillmesh/ledger/ledgertest")
	files, _ := filepath.Glob("*.go")
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(src), "go func") {
			t.Errorf("%s starts a goroutine: the simulator runs on one", file)
		}
	}
}
