package escpos

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps the package pure: no I/O, no clock, no logging, no
// goroutine machinery.
func TestImports(t *testing.T) {
	allowed := map[string]bool{
		"bytes": true, "errors": true, "fmt": true, "slices": true, "strconv": true,
		"strings": true, "time": true, "unicode/utf8": true,
		"golang.org/x/text/encoding/charmap": true,
		"github.com/skip2/go-qrcode":         true,
		// GS1 check digits are a selling rule, kept once.
		"github.com/tillmesh/tillmesh/ledger/basket": true,
	}
	checkImports(t, allowed)
}

func checkImports(t *testing.T, allowed map[string]bool) {
	t.Helper()
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
			if !allowed[path] {
				t.Errorf("%s imports %s, which a pure package must not", name, path)
			}
		}
	}
}
