package ui

import (
	"context"
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
// (changes were dropped: re-read everything), "scan" (a serial scan
// that needs the cashier: ScanEvent), "weight" (the scale's stable
// weight changed: WeightEvent) and "status" (every
// StatusInterval). The stream ends when the client goes, the session
// ends, or the till closes.
func (a *API) getEvents(w http.ResponseWriter, r *http.Request, s *session) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	e := &eventStream{a: a, w: w, rc: http.NewResponseController(w), ctx: r.Context(), s: s}
	changes := a.till.Watch(e.ctx)
	cartCh, unsub := a.cart.subscribe()
	defer unsub()
	scanCh, unsubScans := a.scans.subscribe()
	defer unsubScans()
	weightCh, unsubWeights := a.weights.subscribe()
	defer unsubWeights()
	if !e.send("hello", map[string]any{"staff": s.staff, "till": a.till.Self()}) || !e.cart() || !e.status() {
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
		ok := true
		select {
		case <-e.ctx.Done():
			return
		case c, open := <-changes:
			ok = open && e.change(c, dirty) // closed: the till is closing
		case <-flush.C:
			ok = e.flushStock(dirty)
		case <-cartCh:
			ok = e.cart()
		case sc := <-scanCh:
			ok = e.send("scan", sc)
		case wt := <-weightCh:
			ok = e.send("weight", wt)
		case <-status.C:
			if a.sessions.get(s.token, a.cfg.Now()) == nil || !a.current(e.ctx, s) {
				e.send("logout", map[string]string{"reason": "session ended"})
				return
			}
			ok = e.status()
		}
		if !ok {
			return
		}
	}
}

// eventStream is one page's server-sent event stream. Its methods report
// whether the stream goes on.
type eventStream struct {
	a   *API
	w   http.ResponseWriter
	rc  *http.ResponseController
	ctx context.Context
	s   *session
}

func (e *eventStream) send(event string, v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	if _, err := fmt.Fprintf(e.w, "event: %s\ndata: %s\n\n", event, b); err != nil {
		return false
	}
	return e.rc.Flush() == nil
}

func (e *eventStream) cart() bool {
	v, err := e.a.cartView(e.ctx)
	if err != nil {
		return e.send("error", map[string]string{"error": err.Error()})
	}
	return e.send("cart", v)
}

func (e *eventStream) status() bool {
	return e.send("status", StatusEvent{Status: e.a.till.Status(e.ctx), ServerTime: e.a.cfg.Now().UTC(),
		ShiftOpen: e.a.shiftState(e.ctx).Open != nil})
}

// change forwards one change to the page; stock is marked dirty and sent
// at the next flush.
func (e *eventStream) change(c Change, dirty map[string]bool) bool {
	a := e.a
	switch c.Kind {
	case ChangeStock:
		dirty[c.ID] = true
		return true
	case ChangeStaff:
		a.forgetStaff()
		if !a.current(e.ctx, e.s) {
			a.sessions.drop(e.s.token)
			e.send("logout", map[string]string{"reason": "your staff record was deactivated or removed"})
			return false
		}
	case ChangeReload:
		a.forgetStaff()
		a.forgetSettings()
	case ChangeSetting:
		a.forgetSettings()
		return e.send("setting", c)
	}
	return e.send(string(c.Kind), c)
}

// flushStock sends the stock of every dirty SKU once.
func (e *eventStream) flushStock(dirty map[string]bool) bool {
	for sku := range dirty {
		delete(dirty, sku)
		st, err := e.a.stockLevel(e.ctx, sku)
		if err != nil {
			continue
		}
		if !e.send("stock", st) {
			return false
		}
	}
	return true
}
