package ui_test

import (
	"net/http"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
)

// A price override by role and limit: a supervisor approves a cut within
// the store's override limit (20%), a manager a deeper cut; bad prices
// change nothing; the reason, list price and approver are in the signed
// sale.
func TestPriceOverrideByRoleAndLimit(t *testing.T) {
	e := serve(t)
	c := e.login(t, "2", "0000")
	c.must(200, "POST", "/api/cart/lines", `{"sku":"2001"}`) // batteries at 5.99
	before := c.must(200, "GET", "/api/cart", "")
	need := c.fails(http.StatusForbidden, "supervisor must approve", "PUT", "/api/cart/lines/0", `{"override":{"price":499,"reason":"shelf label says 4.99"}}`)
	if need["need"] != "approval" {
		t.Fatalf("need %v", need)
	}
	for _, bad := range []struct{ body, reason string }{
		{`{"override":{"price":-1,"reason":"x"},"approver":"1","approver_pin":"1234"}`, "must not be negative"},
		{`{"override":{"price":5991,"reason":"x"},"approver":"1","approver_pin":"1234"}`, "typing slip"},
		{`{"override":{"price":499,"reason":" "},"approver":"1","approver_pin":"1234"}`, "needs a reason"},
		{`{"override":{"price":499,"reason":"x"},"qty":2}`, "goes alone"},
	} {
		c.fails(http.StatusBadRequest, bad.reason, "PUT", "/api/cart/lines/0", bad.body)
	}
	// A supervisor may cut 20% at most: 5.99 -> 1.00 needs a manager.
	c.fails(http.StatusForbidden, "manager must approve", "PUT", "/api/cart/lines/0", `{"override":{"price":100,"reason":"damaged"},"approver":"3","approver_pin":"3333"}`)
	if after := c.must(200, "GET", "/api/cart", ""); num(after["version"]) != num(before["version"]) {
		t.Fatalf("refused overrides changed the cart: %v", after)
	}
	out := c.must(200, "PUT", "/api/cart/lines/0", `{"override":{"price":499,"reason":"shelf label says 4.99","approved_by":"2"},"approver":"3","approver_pin":"3333"}`)
	l := lines(out)[0]
	if num(l["unit_price"]) != 499 || num(l["list_price"]) != 599 || l["override_by"] != "3" || l["override_reason"] != "shelf label says 4.99" || num(out["total"]) != 499 {
		t.Fatalf("overridden line %v (total %v)", l, out["total"])
	}
	out = c.must(200, "PUT", "/api/cart/lines/0", `{"override":{"price":100,"reason":"damaged box"},"approver":"1","approver_pin":"1234"}`)
	if l := lines(out)[0]; num(l["unit_price"]) != 100 || l["override_by"] != "1" {
		t.Fatalf("manager's override %v", l)
	}
	res := c.must(http.StatusCreated, "POST", "/api/cart/checkout", `{"idempotency_key":"p","tenders":[{"kind":"cash","amount":100}]}`)
	sl := res["sale"].(map[string]any)["lines"].([]any)[0].(map[string]any)
	if num(sl["unit_price"]) != 100 || num(sl["list_price"]) != 599 || sl["override_reason"] != "damaged box" || sl["override_by"] != "1" {
		t.Fatalf("recorded line %v", sl)
	}
	// Back to the catalog price.
	c.must(200, "POST", "/api/cart/lines", `{"sku":"2001"}`)
	c.must(200, "PUT", "/api/cart/lines/0", `{"override":{"price":550,"reason":"x"},"approver":"3","approver_pin":"3333"}`)
	out = c.must(200, "PUT", "/api/cart/lines/0", `{"remove_override":true}`)
	if l := lines(out)[0]; num(l["unit_price"]) != 599 || l["list_price"] != nil {
		t.Fatalf("after remove_override: %v", l)
	}
	// POST /api/sales: the client's approved_by is not believed.
	c.fails(http.StatusForbidden, "supervisor must approve", "POST", "/api/sales",
		`{"idempotency_key":"s2","lines":[{"sku":"1001","qty":1,"override":{"price":100,"reason":"x","approved_by":"1"}}],"tenders":[{"kind":"cash","amount":100}]}`)
}

// A store that adds tax at the total (US sales tax): the cart, the sale
// and the recorded event all say so. 5.99 at 19% is 5.99 + 1.14 = 7.13.
func TestTaxAddedAtTheTotal(t *testing.T) {
	e := serve(t)
	m := e.login(t, "1", "1234")
	if out := m.must(200, "PUT", "/api/settings", `{"tax_included":false}`); out["tax_included"] != false {
		t.Fatalf("settings %v", out)
	}
	out := m.must(200, "POST", "/api/cart/lines", `{"sku":"2001"}`)
	if out["tax_included"] != false || num(out["net"]) != 599 || num(out["tax"]) != 114 || num(out["total"]) != 713 {
		t.Fatalf("cart with tax added: %v", out)
	}
	m.fails(http.StatusBadRequest, "tender", "POST", "/api/cart/checkout", `{"idempotency_key":"p","tenders":[{"kind":"card","amount":599}]}`)
	res := m.must(http.StatusCreated, "POST", "/api/cart/checkout", `{"idempotency_key":"p","tenders":[{"kind":"card","amount":713}]}`)
	if s := res["sale"].(map[string]any); num(s["total"]) != 713 || num(s["tax"]) != 114 {
		t.Fatalf("sale %v", s)
	}
	s := m.must(201, "POST", "/api/sales", `{"idempotency_key":"s","lines":[{"sku":"1001","qty":1}],"tenders":[{"kind":"cash","amount":127}]}`)
	if num(s["total"]) != 127 { // 1.19 + 7% = 1.27
		t.Fatalf("direct sale %v", s)
	}
	e.till.mu.Lock()
	defer e.till.mu.Unlock()
	n := 0
	for _, ev := range e.till.idem {
		if sale, ok := ev.Body.(*ledger.Sale); ok {
			n++
			if sale.TaxIncluded {
				t.Fatalf("recorded sale %s says tax included", ev.Key)
			}
		}
	}
	if n != 2 {
		t.Fatalf("%d sales recorded, want 2", n)
	}
}
