package node

import (
	"context"

	"github.com/tillmesh/tillmesh/ledger"
)

// AskRefundGrant asks for a grant on one line of a sale as a refund at
// this till would, without recording the refund (benchmarks).
func (t *Till) AskRefundGrant(ctx context.Context, sale ledger.EventID, line int, qty int64, key string) error {
	rf := &ledger.Refund{Sale: sale, Lines: []ledger.RefundLine{{Line: line, Qty: qty}}}
	_, err := t.spendRefund(ctx, rf, key)
	return err
}

// AskVoidGrant asks for a void grant on a sale as a void at this till
// would, without recording the void.
func (t *Till) AskVoidGrant(ctx context.Context, sale ledger.EventID, key string) error {
	_, err := t.spendVoid(ctx, &ledger.Void{Sale: sale}, key)
	return err
}
