package ui_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui"
)

// Clearing a cart that had lines records a cart_cleared event with the
// lines as priced, the total, the cashier and the reason; the till's
// reports count it for that cashier. A retried clear records once; an
// empty cart records nothing.
func TestClearSaleLeavesATrace(t *testing.T) {
	f := newFakeTill()
	e := serveFake(t, f)
	c := e.login(t, "2", "0000")
	c.must(200, "POST", "/api/cart/lines", `{"sku":"1001","qty":3}`)
	cart := c.must(200, "POST", "/api/cart/lines", `{"sku":"3001","qty":500}`)
	total := ledger.Money(num(cart["total"]))
	before := f.eventCount()
	out := c.must(200, "DELETE", "/api/cart", `{"idempotency_key":"clear-1","reason":"customer left"}`)
	cl, _ := out["cleared"].(map[string]any)
	if len(lines(out)) != 0 || cl == nil || cl["recorded"] != true || cl["event_id"] == "" {
		t.Fatalf("clear: %v", out)
	}
	if f.eventCount() != before+1 {
		t.Fatalf("%d events recorded, want 1", f.eventCount()-before)
	}
	var rep ledger.Report
	var body *ledger.CartCleared
	f.View(func(s *ledger.State) {
		rep = s.Fold().StoreReport()
		head, _, _ := s.Head(f.self.ID)
		ev := f.events[f.self.ID][head]
		body, _ = ev.Body.(*ledger.CartCleared)
	})
	if body == nil || len(body.Lines) != 2 || body.Lines[0].SKU != "1001" || body.Lines[0].Qty != 3 || body.Lines[1].Qty != 500 ||
		body.Total != total || body.Staff != "2" || body.Reason != "customer left" || body.Currency != "EUR" {
		t.Fatalf("recorded %+v, want the cart's 2 lines worth %d by staff 2", body, total)
	}
	if rep.Cleared != 1 || rep.ClearedValue != total || rep.ClearedBy["2"].Count != 1 || rep.Sales != 0 {
		t.Fatalf("report: cleared %d worth %d by %v, sales %d", rep.Cleared, rep.ClearedValue, rep.ClearedBy, rep.Sales)
	}
	m := e.login(t, "1", "1234")
	if r := m.must(200, "GET", "/api/reports", ""); num(r["store"].(map[string]any)["cleared"]) != 1 {
		t.Fatalf("reports page: %v", r["store"])
	}
	// The same clear again (a retry): nothing more.
	again := c.must(200, "DELETE", "/api/cart", `{"idempotency_key":"clear-1","reason":"customer left"}`)
	if f.eventCount() != before+1 || again["cleared"].(map[string]any)["event_id"] != cl["event_id"] {
		t.Fatalf("retried clear: %v, %d events", again, f.eventCount()-before)
	}
	// An empty cart cleared: nothing to record.
	c.must(200, "DELETE", "/api/cart", `{"idempotency_key":"clear-2"}`)
	if f.eventCount() != before+1 {
		t.Fatal("clearing an empty cart recorded an event")
	}
}

// While a till of the store runs a release that does not know
// cart_cleared (the kind gate refuses it), the cart is still cleared and
// the answer says why nothing was recorded; the log keeps the lines.
func TestClearSaleRefusedByTheKindGate(t *testing.T) {
	f := newFakeTill()
	f.refuse = map[ledger.Kind]error{ledger.KindCartCleared: fmt.Errorf("%w: till 2 runs a release that does not know cart_cleared events; upgrade it first", ui.ErrConflict)}
	e := serveFake(t, f)
	c := e.login(t, "2", "0000")
	c.must(200, "POST", "/api/cart/lines", `{"sku":"1001","qty":1}`)
	before := f.eventCount()
	out := c.must(200, "DELETE", "/api/cart", `{"idempotency_key":"clear-1"}`)
	cl, _ := out["cleared"].(map[string]any)
	if len(lines(out)) != 0 || cl == nil || cl["recorded"] != false || !strings.Contains(cl["note"].(string), "not recorded: till 2 runs a release that does not know cart_cleared") {
		t.Fatalf("clear refused by the gate: %v", out)
	}
	if f.eventCount() != before {
		t.Fatal("an event was recorded")
	}
	if logs := e.logs.String(); !strings.Contains(logs, "cart cleared but not recorded") || !strings.Contains(logs, "level=WARN") {
		t.Fatalf("log: %s", logs)
	}
}
