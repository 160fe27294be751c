package ledger_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The ledger is pure: it may import only the standard library's pure parts,
// cbor, curve25519-voi's ed25519 and itself. No clock, disk, network, randomness or logging.
func TestImportsArePure(t *testing.T) {
	allowed := map[string]bool{
		"bytes": true, "crypto/ed25519": true, "crypto/sha256": true, "encoding/hex": true,
		"errors": true, "fmt": true, "math": true, "math/bits": true, "sort": true,
		"unicode/utf8": true, "github.com/fxamacker/cbor/v2": true,
		"github.com/tillmesh/tillmesh/ledger": true,
		// Pure ed25519 arithmetic for batch verification (VerifyAll): no
		// I/O, no goroutines; its randomness is an io.Reader VerifyAll
		// fills from a hash, never crypto/rand.
		"github.com/oasisprotocol/curve25519-voi/primitives/ed25519": true,
	}
	for _, dir := range []string{".", "ledgertest"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
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
					t.Errorf("%s imports %q: the ledger must stay pure (no clock, disk, network, randomness, logging)", file, p)
				}
			}
		}
	}
}
