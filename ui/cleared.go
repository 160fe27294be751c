package ui

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tillmesh/tillmesh/ledger"
)

// ClearRequest is the optional body of DELETE /api/cart: the idempotency
// key the client made (a retried clear records once) and why the cart
// was cleared.
type ClearRequest struct {
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	Reason         string `json:"reason,omitempty"`
}

// Cleared says what became of a cleared cart's trace.
type Cleared struct {
	// Recorded is set when the clear is a signed cart_cleared event.
	Recorded bool   `json:"recorded"`
	EventID  string `json:"event_id,omitempty"`
	// Note says why it was not recorded (a till of the store runs a
	// release that does not know cart_cleared events).
	Note string `json:"note,omitempty"`
}

// ClearView is the answer of DELETE /api/cart: the (empty) cart, and for
// a cart that had lines what was recorded of it.
type ClearView struct {
	CartView
	Cleared *Cleared `json:"cleared,omitempty"`
}

// clearCart empties the cart. A cart that had lines leaves a trace: a
// cart_cleared event with its lines as priced, its total, the cashier and
// the reason, which the reports count per cashier. The cart is emptied
// first (only if nobody changed it meanwhile), then the event recorded:
// when the kind gate refuses it (a till of the store runs an older
// release) or the ledger cannot take it, the cart stays cleared (the
// customer is waiting) and the answer says why nothing was recorded; the
// till's log keeps the lines and total (WARN). A local record that never
// reaches the other tills and HQ would be a second, unsigned truth, so
// there is none.
func (a *API) clearCart(w http.ResponseWriter, r *http.Request, s *session) {
	var req ClearRequest
	if r.ContentLength != 0 && !decode(w, r, &req) {
		return
	}
	req.Reason = strings.TrimSpace(req.Reason)
	if len(req.Reason) > ledger.MaxTextLen {
		a.fail(w, r, badRequest("reason of %d bytes: at most %d", len(req.Reason), ledger.MaxTextLen))
		return
	}
	if req.IdempotencyKey == "" {
		req.IdempotencyKey = "clear-" + randomToken()[:22]
	} else if !a.keyed(w, r, req.IdempotencyKey) {
		return
	}
	ctx := r.Context()
	a.attached.set("") // a cleared sale has no customer, whether or not it had lines
	lines, d, version := a.cart.snapshot()
	if len(lines) == 0 {
		// Already empty: a retried clear, or nothing to clear. A retry
		// answers what the first clear recorded.
		out := ClearView{}
		out.CartView, _ = a.cartView(ctx)
		if ev, err := a.till.Replay(req.IdempotencyKey); err == nil && ev != nil && ev.Kind() == ledger.KindCartCleared {
			out.Cleared = &Cleared{Recorded: true, EventID: ev.ID().String()}
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	set := a.settings(ctx)
	p, err := price(lines, d, version, set.DiscountLimitBP, set.TaxIncluded)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if _, ok := a.cart.replace(version, nil, nil); !ok {
		a.fail(w, r, fmt.Errorf("%w: the cart changed on another screen: look at it again before clearing", ErrConflict))
		return
	}
	body := &ledger.CartCleared{Currency: p.Sale.Currency, Lines: p.Sale.Lines, Total: p.view.Total, Staff: s.staff.ID, Reason: req.Reason}
	out := ClearView{Cleared: &Cleared{}}
	ev, _, err := a.till.Record(ctx, body, req.IdempotencyKey)
	switch {
	case err == nil:
		out.Cleared.Recorded, out.Cleared.EventID = true, ev.ID().String()
		a.log.Info("cart cleared", "staff", s.staff.ID, "lines", len(body.Lines), "total", body.Total.String(), "reason", body.Reason)
	default:
		msg := err.Error()
		if i := strings.Index(msg, ": "); i >= 0 && (errors.Is(err, ErrConflict) || errors.Is(err, ErrUnavailable)) {
			msg = msg[i+2:]
		}
		out.Cleared.Note = "not recorded: " + msg
		a.log.Warn("cart cleared but not recorded", "staff", s.staff.ID, "lines", len(body.Lines), "total", body.Total.String(),
			"reason", body.Reason, "err", err)
	}
	out.CartView, _ = a.cartView(ctx)
	writeJSON(w, http.StatusOK, out)
}
