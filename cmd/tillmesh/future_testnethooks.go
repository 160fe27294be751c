//go:build testnethooks

package main

import (
	"context"
	"fmt"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/ui"
)

// recordFuture records an event of ledger.KindTestnetFuture, a kind only
// testnet builds know (testnet's rolling-upgrade scenario). It also
// writes what a store using this release's features puts under inventory
// key prefixes the previous release does not read: a customer
// (/customer/) and an outbox record (/outbox/), so the scenario proves
// tills still on the previous release converge beside them.
func recordFuture(ctx context.Context, till *node.Till, key string) (*ledger.Event, error) {
	ev, _, err := till.Record(ctx, &ledger.TestnetFuture{Note: "from the new release " + key, N: 1}, key)
	if err != nil {
		return nil, err
	}
	if _, err := till.CreateCustomer(ctx, ui.Customer{Name: "Testnet " + key, Notes: "rolling-upgrade"}); err != nil {
		return nil, fmt.Errorf("future: customer: %w", err)
	}
	rec := crdt.OutboxEntry{Connector: "testnet", Kind: "probe", ID: key, Value: []byte(`{"state":"sent"}`)}
	if err := till.Inventory().PutOutbox(ctx, []crdt.OutboxEntry{rec}); err != nil {
		return nil, fmt.Errorf("future: outbox record: %w", err)
	}
	return ev, nil
}
