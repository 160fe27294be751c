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

// OverspendView is a ledger.Overspend with receipt numbers, for the
// manager's screen and GET /api/reports.
type OverspendView struct {
	Sale     string       `json:"sale"` // receipt number
	SaleID   string       `json:"sale_id"`
	Owner    uint32       `json:"owner"` // the till that made the sale
	Currency string       `json:"currency"`
	Limit    ledger.Money `json:"limit"`
	Spent    ledger.Money `json:"spent"`
	Over     ledger.Money `json:"over"`
	Reasons  []string     `json:"reasons"`
	Spends   []SpendView  `json:"spends"`
}

// SpendView is one refund or void of an over-spent sale.
type SpendView struct {
	Receipt string       `json:"receipt"`
	EventID string       `json:"event_id"`
	Till    uint32       `json:"till"`
	Kind    ledger.Kind  `json:"kind"`
	Amount  ledger.Money `json:"amount"`
	Grant   string       `json:"grant,omitempty"`
	Offline bool         `json:"offline,omitempty"` // made without the owner's grant
}

func (a *API) overspendViews(os []ledger.Overspend) []OverspendView {
	out := make([]OverspendView, 0, len(os))
	for _, o := range os {
		v := OverspendView{Sale: ledger.Receipt(a.till.TillNumber(o.Owner), o.OwnerSeq), SaleID: o.Sale.String(),
			Owner: a.till.TillNumber(o.Owner), Currency: o.Currency, Limit: o.Limit, Spent: o.Spent, Over: o.Over,
			Reasons: o.Reasons, Spends: []SpendView{}}
		for _, s := range o.Spends {
			sv := SpendView{Receipt: ledger.Receipt(a.till.TillNumber(s.Till), s.Seq), EventID: s.Event.String(),
				Till: a.till.TillNumber(s.Till), Kind: s.Kind, Amount: s.Amount, Offline: s.Offline}
			if s.Grant != nil {
				sv.Grant = s.Grant.String()
			}
			v.Spends = append(v.Spends, sv)
		}
		out = append(out, v)
	}
	return out
}
