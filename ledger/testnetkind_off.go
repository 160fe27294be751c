//go:build !testnethooks

package ledger

// testnetBody returns a body for the kinds only testnet builds know (see
// testnetkind.go); a release build knows none.
func testnetBody(Kind) Body { return nil }
