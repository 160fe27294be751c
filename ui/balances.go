package ui

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/tillmesh/tillmesh/ledger"
)

// offlineRefund handles a refund whose sale's till (its owner) could not
// be reached for a grant. Unless the request asks for an offline refund
// the cashier is told so (503, need "offline"); if it does, a supervisor
// (PermRefundOffline) must approve and the till records it without a
// grant, as an offline spend, when the store's policy and offline limit
// allow (node/grants.go). Every such refund that takes a sale over what
// it took is reported as an over-spend.
func (a *API) offlineRefund(r *http.Request, s *session, req RefundRequest, sale *ledger.Event, body *ledger.Refund, cause error) (*ledger.Event, bool, error) {
	if !req.Offline {
		return nil, false, &needError{status: http.StatusServiceUnavailable, need: "offline", reason: cause.Error()}
	}
	var total ledger.Money
	for _, l := range body.Lines {
		total += l.Amount
	}
	by, err := a.authorize(r.Context(), r, s, req.approval, fmt.Sprintf("an offline refund of %v", total), PermRefundOffline)
	if err != nil {
		return nil, false, err
	}
	if by == "" {
		return nil, false, errors.New("offline refund approved by nobody")
	}
	body.Offline = &ledger.OfflineSpend{Owner: sale.Till, Approver: by}
	ev, existing, err := a.till.Record(r.Context(), body, req.IdempotencyKey)
	if err == nil {
		a.log.Warn("offline refund: the sale's till could not be reached", "sale", ledger.Receipt(a.till.TillNumber(sale.Till), sale.Seq),
			"approved_by", by, "total", total.String())
	}
	return ev, existing, err
}
