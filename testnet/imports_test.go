package testnet

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// testnet drives tills as a store's screens and HQ's relays would: through
// node, hq and the till API. It must not import the command line (which
// imports it) or the hardware.
func TestImports(t *testing.T) {
	banned := []string{"github.com/tillmesh/tillmesh/cmd", "github.com/tillmesh/tillmesh/hw"}
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
			for _, b := range banned {
				if strings.HasPrefix(p, b) {
					t.Errorf("%s imports %q", file, p)
				}
			}
		}
	}
}
