package scale_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

func TestImports(t *testing.T) {
	testkit.Imports(t, ".").Only("scale is pure: no I/O, no clock, no logging, no goroutines",
		"bytes", "errors", "fmt", "strings")
}
