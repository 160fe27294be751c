package ledger_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// The ledger is pure: it may import only the standard library's pure parts,
// cbor, curve25519-voi's ed25519 and itself. No clock, disk, network,
// randomness or logging. ledger/basket, the selling rules, is as pure and
// imports only ledger and the standard library.
func TestImportsArePure(t *testing.T) {
	const why = "the ledger must stay pure (no clock, disk, network, randomness, logging)"
	pure := []string{"bytes", "crypto/ed25519", "crypto/sha256", "encoding/hex", "errors", "fmt", "math", "math/bits",
		"sort", "strconv", "strings", "unicode/utf8", "github.com/fxamacker/cbor/v2", "github.com/tillmesh/tillmesh/ledger",
		// Pure ed25519 arithmetic for batch verification (VerifyAll): no
		// I/O, no goroutines; its randomness is an io.Reader VerifyAll
		// fills from a hash, never crypto/rand.
		"github.com/oasisprotocol/curve25519-voi/primitives/ed25519"}
	testkit.Imports(t, ".").Only(why, pure...)
	testkit.Imports(t, "ledgertest").Only(why, pure...)
	testkit.Imports(t, "basket").Only("basket imports only ledger and the standard library's pure parts",
		"crypto/sha256", "encoding/hex", "encoding/json", "errors", "fmt", "math/big", "strconv", "strings",
		"unicode", "unicode/utf8", "github.com/tillmesh/tillmesh/ledger")
}
