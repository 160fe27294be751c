package node

import (
	"context"

	"github.com/tillmesh/tillmesh/ledger"
)

// KindAllowed and TillsNotKnowing expose the kind gate to tests.
func (t *Till) KindAllowed(ctx context.Context, k ledger.Kind) error { return t.kindAllowed(ctx, k) }

func (t *Till) TillsNotKnowing(ctx context.Context, k ledger.Kind) ([]string, error) {
	return t.tillsNotKnowing(ctx, k)
}

// CheckAlerts runs one round of the outbox's alert rules now.
func (t *Till) CheckAlerts(ctx context.Context) { t.checkAlerts(ctx) }
