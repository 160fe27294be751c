package ui_test

import (
	"net/http"
	"testing"
)

// A return without a receipt needs a supervisor, an open shift and a
// reason; it gives back the current price or a stated one.
func TestReturnWithoutReceipt(t *testing.T) {
	e := serve(t)
	c := e.login(t, "2", "0000")
	body := `{"idempotency_key":"r1","lines":[{"sku":"1002","qty":2}],"reason":"no receipt, unopened"}`
	c.fails(http.StatusBadRequest, "no shift is open", "POST", "/api/returns", body)
	c.must(201, "POST", "/api/shift/open", `{"idempotency_key":"o","float":1000}`)
	before := e.till.eventCount()
	need := c.fails(http.StatusForbidden, "supervisor must approve", "POST", "/api/returns", body)
	if need["need"] != "approval" {
		t.Fatalf("need %v", need)
	}
	c.fails(http.StatusBadRequest, "needs a reason", "POST", "/api/returns", `{"idempotency_key":"r1","lines":[{"sku":"1002","qty":2}],"approver":"3","approver_pin":"3333"}`)
	c.fails(http.StatusBadRequest, "at least one product", "POST", "/api/returns", `{"idempotency_key":"r1","lines":[],"reason":"x","approver":"3","approver_pin":"3333"}`)
	c.fails(http.StatusNotFound, "unknown sku", "POST", "/api/returns", `{"idempotency_key":"r1","lines":[{"sku":"nope","qty":1}],"reason":"x","approver":"3","approver_pin":"3333"}`)
	c.fails(http.StatusBadRequest, "must not be negative", "POST", "/api/returns", `{"idempotency_key":"r1","lines":[{"sku":"1002","qty":1,"price":-5}],"reason":"x","approver":"3","approver_pin":"3333"}`)
	if e.till.eventCount() != before {
		t.Fatal("refused returns recorded events")
	}
	out := c.must(201, "POST", "/api/returns", `{"idempotency_key":"r1","lines":[{"sku":"1002","qty":2}],"reason":"no receipt, unopened","approver":"3","approver_pin":"3333"}`)
	rt := out["body"].(map[string]any)
	if out["kind"] != "return" || rt["approver"] != "3" || num(rt["tenders"].([]any)[0].(map[string]any)["amount"]) != 498 {
		t.Fatalf("return: %v", out)
	}
	// At a stated price (last season's 2.00): within the supervisor's
	// override limit.
	out = c.must(201, "POST", "/api/returns", `{"idempotency_key":"r2","lines":[{"sku":"1002","qty":1,"price":200}],"tender":"card","reason":"price then","approver":"3","approver_pin":"3333"}`)
	l := out["body"].(map[string]any)["lines"].([]any)[0].(map[string]any)
	if num(l["unit_price"]) != 200 || num(l["list_price"]) != 249 {
		t.Fatalf("stated-price return line %v", l)
	}
	st := c.must(200, "GET", "/api/shift", "")
	if rep := st["open"].(map[string]any)["report"].(map[string]any); num(rep["refunds"]) != 2 || num(rep["cash_expected"]) != 1000-498 {
		t.Fatalf("shift after returns: %v", rep)
	}
}

// An exchange: goods back against the cart, the customer pays only the
// difference (or gets it back), one transaction.
func TestExchange(t *testing.T) {
	e := serve(t)
	m := e.login(t, "1", "1234")
	m.must(201, "POST", "/api/shift/open", `{"idempotency_key":"o","float":1000}`)
	m.fails(http.StatusBadRequest, "the cart is empty", "POST", "/api/exchanges", `{"idempotency_key":"x0","lines":[{"sku":"1002","qty":1}],"reason":"wrong size"}`)
	// Bread (2.49) back, batteries (5.99) taken: 3.50 to pay.
	m.must(200, "POST", "/api/cart/lines", `{"sku":"2001"}`)
	m.fails(http.StatusBadRequest, "tender", "POST", "/api/exchanges", `{"idempotency_key":"x1","lines":[{"sku":"1002","qty":1}],"reason":"wrong item","tenders":[{"kind":"cash","amount":100}]}`)
	out := m.must(201, "POST", "/api/exchanges", `{"idempotency_key":"x1","lines":[{"sku":"1002","qty":1}],"reason":"wrong item","tenders":[{"kind":"cash","amount":500}]}`)
	sale := out["sale"].(map[string]any)
	if num(out["difference"]) != 350 || num(sale["total"]) != 599 || num(sale["change"]) != 150 {
		t.Fatalf("exchange: %v", out)
	}
	if again := m.must(200, "POST", "/api/exchanges", `{"idempotency_key":"x1","lines":[{"sku":"1002","qty":1}],"reason":"wrong item","tenders":[{"kind":"cash","amount":500}]}`); again["replayed"] != true {
		t.Fatalf("retried exchange %v", again)
	}
	if cart := m.must(200, "GET", "/api/cart", ""); len(cart["lines"].([]any)) != 0 {
		t.Fatalf("cart after the exchange: %v", cart)
	}
	// Milk back, bread taken: 2.49 - 1.19 = 1.30 paid by card, exactly.
	m.must(200, "POST", "/api/cart/lines", `{"sku":"1002"}`)
	out = m.must(201, "POST", "/api/exchanges", `{"idempotency_key":"x3","lines":[{"sku":"1001","qty":1}],"reason":"wrong item","pay":"card"}`)
	if ts := out["sale"].(map[string]any)["tenders"].([]any); num(out["difference"]) != 130 || len(ts) != 2 || num(ts[1].(map[string]any)["amount"]) != 130 {
		t.Fatalf("exchange paid by card: %v", out)
	}
	// Store credit takes only a difference given back: owed, it is
	// refused, nothing recorded; without a card number too.
	m.must(200, "POST", "/api/cart/lines", `{"sku":"2001"}`)
	before := e.till.eventCount()
	m.fails(http.StatusBadRequest, "store credit only takes a difference given back", "POST", "/api/exchanges", `{"idempotency_key":"x4","lines":[{"sku":"1001","qty":1}],"reason":"wrong item","tender":"store_credit","ref":"SC-1"}`)
	m.fails(http.StatusBadRequest, "which card", "POST", "/api/exchanges", `{"idempotency_key":"x4","lines":[{"sku":"1001","qty":1}],"reason":"wrong item","tender":"store_credit"}`)
	if e.till.eventCount() != before {
		t.Fatal("refused exchanges recorded events")
	}
	m.must(200, "DELETE", "/api/cart", "")
	// Batteries back, milk taken: 5.99 - 1.19 = 4.80 back in cash.
	m.must(200, "POST", "/api/cart/lines", `{"sku":"1001"}`)
	out = m.must(201, "POST", "/api/exchanges", `{"idempotency_key":"x2","lines":[{"sku":"2001","qty":1}],"reason":"changed mind"}`)
	if num(out["difference"]) != -480 {
		t.Fatalf("exchange down: %v", out)
	}
	// The drawer: float 10.00 + 3.50 taken - 4.80 given back.
	st := m.must(200, "GET", "/api/shift", "")
	if rep := st["open"].(map[string]any)["report"].(map[string]any); num(rep["cash_expected"]) != 1000+350-480 {
		t.Fatalf("drawer after exchanges: %v", rep)
	}
	// Stock: bread +1 -1, batteries -1 +1, milk +1 -1.
	e.till.mu.Lock()
	defer e.till.mu.Unlock()
	f := e.till.state.Fold()
	if f.StockTotal("1002") != 0 || f.StockTotal("2001") != 0 || f.StockTotal("1001") != 0 {
		t.Fatalf("stock after exchanges: bread %d batteries %d milk %d", f.StockTotal("1002"), f.StockTotal("2001"), f.StockTotal("1001"))
	}
}
