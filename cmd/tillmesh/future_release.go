//go:build !testnethooks

package main

import (
	"context"
	"errors"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
)

// recordFuture is testnet's hook for an event of a kind the previous
// release does not know; a release build has no such kind.
func recordFuture(context.Context, *node.Till, string) (*ledger.Event, error) {
	return nil, errors.New("this binary was built without -tags testnethooks")
}
