package sim

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The simulator is pure: the ledger's rules, a seeded generator, no clock,
// disk, network or goroutines (the test runs seeds in parallel, not sim).
func TestImportsArePure(t *testing.T) {
	allowed := map[string]bool{
		"fmt": true, "math/rand/v2": true, "reflect": true,
		"github.com/tillmesh/tillmesh/ledger":            true,
		"github.com/tillmesh/tillmesh/ledger/ledgertest": true,
	}
	files, _ := filepath.Glob("*.go")
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !allowed[p] {
				t.Errorf("%s imports %q: the simulator must stay pure and deterministic", file, p)
			}
		}
		if strings.Contains(string(src), "go func") {
			t.Errorf("%s starts a goroutine: the simulator runs on one", file)
		}
	}
}
