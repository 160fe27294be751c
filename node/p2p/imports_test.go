package p2p

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps p2p below node: of this module it may import only
// ledger; never ui, hw, crdt, node, cmd or testnet.
func TestImports(t *testing.T) {
	const module = "github.com/tillmesh/tillmesh/"
	allowed := map[string]bool{module + "ledger": true}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, module) && !allowed[path] {
				t.Errorf("%s imports %s; p2p may import only ledger from this module", name, path)
			}
		}
	}
}
