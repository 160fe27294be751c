package hw_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps hw below the node: it may use the ledger and its own
// subpackages, never the node, the UI, the CRDT or the commands.
func TestImports(t *testing.T) {
	forbidden := []string{"/node", "/ui", "/crdt", "/cmd", "/testnet"}
	for _, dir := range []string{".", "sim"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range files {
			f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				for _, bad := range forbidden {
					if strings.HasPrefix(path, "github.com/tillmesh/tillmesh"+bad) {
						t.Errorf("%s imports %s", name, path)
					}
				}
			}
		}
	}
}
