//go:build testnethooks

package main

import (
	"context"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
)

// recordFuture records an event of ledger.KindTestnetFuture, a kind only
// testnet builds know (testnet's rolling-upgrade scenario).
func recordFuture(ctx context.Context, till *node.Till, key string) (*ledger.Event, error) {
	ev, _, err := till.Record(ctx, &ledger.TestnetFuture{Note: "from the new release " + key, N: 1}, key)
	return ev, err
}
