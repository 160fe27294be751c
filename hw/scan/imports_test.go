package scan_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

func TestImports(t *testing.T) {
	testkit.Imports(t, ".").Only("scan is pure: no I/O, no clock, no logging, no goroutines", "errors", "fmt")
}
