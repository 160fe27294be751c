package ui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// StatusEvent is the "status" event of the stream: the mesh status, the
// till's own clock (the page compares it with its own) and the shift.
type StatusEvent struct {
	Status     Status    `json:"status"`
	ServerTime time.Time `json:"server_time"`
	ShiftOpen  bool      `json:"shift_open"`
}

// getEvents streams server-sent events to the page: "cart" (the priced
// cart, on every change), "stock" (a SKU's store stock when any till
// moves it), "product", "setting" and "staff" (re-read it), "reload"
// (changes were dropped: re-read everything) and "status" (every
// StatusInterval). The stream ends when the client goes, the session
// ends, or the till closes.
func (a *API) getEvents(w http.ResponseWriter, r *http.Request, s *session) {
	rc := http.NewResponseController(w)
	ctx := r.Context()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	send := func(event string, v any) bool {
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	changes := a.till.Watch(ctx)
	cartCh, unsub := a.cart.subscribe()
	defer unsub()

	sendCart := func() bool {
		v, err := a.cartView(ctx)
		if err != nil {
			return send("error", map[string]string{"error": err.Error()})
		}
		return send("cart", v)
	}
	sendStatus := func() bool {
		return send("status", StatusEvent{Status: a.till.Status(ctx), ServerTime: a.cfg.Now().UTC(),
			ShiftOpen: a.shiftState(ctx).Open != nil})
	}
	if !send("hello", map[string]any{"staff": s.staff, "till": a.till.Self()}) || !sendCart() || !sendStatus() {
		return
	}
	status := time.NewTicker(a.cfg.StatusInterval)
	defer status.Stop()
	// Stock changes come in bursts (a sale moves several SKUs, a peer's
	// catch-up many): gather them and send each SKU once per flush.
	flush := time.NewTicker(100 * time.Millisecond)
	defer flush.Stop()
	dirty := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			return
		case c, ok := <-changes:
			if !ok {
				return // the till is closing
			}
			switch c.Kind {
			case ChangeStock:
				dirty[c.ID] = true
			case ChangeStaff:
				a.forgetStaff()
				if !a.current(ctx, s) {
					a.sessions.drop(s.token)
					send("logout", map[string]string{"reason": "your staff record was deactivated or removed"})
					return
				}
				if !send(string(c.Kind), c) {
					return
				}
			case ChangeReload:
				a.forgetStaff()
				a.forgetSettings()
				if !send(string(c.Kind), c) {
					return
				}
			case ChangeSetting:
				a.forgetSettings()
				if !send("setting", c) {
					return
				}
			default:
				if !send(string(c.Kind), c) {
					return
				}
			}
		case <-flush.C:
			for sku := range dirty {
				delete(dirty, sku)
				st, err := a.stockLevel(ctx, sku)
				if err != nil {
					continue
				}
				if !send("stock", st) {
					return
				}
			}
		case <-cartCh:
			if !sendCart() {
				return
			}
		case <-status.C:
			if a.sessions.get(s.token, a.cfg.Now()) == nil || !a.current(ctx, s) {
				send("logout", map[string]string{"reason": "session ended"})
				return
			}
			if !sendStatus() {
				return
			}
		}
	}
}
