package ui_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// The business day's margin, by hand: bread (7% tax included, cost
// 1.50) sold 2 for 4.98, net 4.65 (4.98/1.07 = 4.654); batteries (19%,
// no cost) 5.99, net 5.03 (5.99/1.19 = 5.034); one bread returned at
// 2.49, net 2.33 (2.49/1.07 = 2.327) and its cost 1.50 back.
// Costed net 4.65-2.33 = 2.32, cost 3.00-1.50 = 1.50, margin 0.82;
// uncosted 5.03, net 7.35.
func TestDayMarginByHand(t *testing.T) {
	e := serve(t)
	m := e.login(t, "1", "1234")
	m.fails(http.StatusBadRequest, "cost price -1 not in", "PUT", "/api/products/1002",
		`{"sku":"1002","name":"Bread","price":249,"currency":"EUR","tax_rate":700,"unit":"ea","cost":-1}`)
	m.fails(http.StatusBadRequest, "cost price", "PUT", "/api/products/1002",
		`{"sku":"1002","name":"Bread","price":249,"currency":"EUR","tax_rate":700,"unit":"ea","cost":100000000000}`)
	m.must(200, "PUT", "/api/products/1002", `{"sku":"1002","name":"Bread","price":249,"currency":"EUR","tax_rate":700,"unit":"ea","cost":150}`)
	if p := m.must(200, "GET", "/api/products/1002", ""); num(p["cost"]) != 150 {
		t.Fatalf("product after setting its cost: %v", p)
	}

	// Both logged in at once: the cashier (no PermCatalog) gets the
	// product without its cost, by SKU, by search and by barcode; the
	// manager still sees it.
	c := e.login(t, "2", "0000")
	if p := c.must(200, "GET", "/api/products/1002", ""); p["cost"] != nil || num(p["price"]) != 249 {
		t.Fatalf("cashier sees the product as %v, want no cost", p)
	}
	for _, q := range []string{"/api/products?q=Bread&limit=0", "/api/products?limit=0"} {
		resp, b := c.raw("GET", q, "")
		var list []map[string]any
		if err := json.Unmarshal(b, &list); resp.StatusCode != 200 || err != nil || len(list) == 0 {
			t.Fatalf("cashier's search %s: %d %s", q, resp.StatusCode, b)
		}
		for _, p := range list {
			if p["cost"] != nil {
				t.Fatalf("cashier's search shows a cost: %v", p)
			}
		}
	}
	if p := m.must(200, "GET", "/api/products/1002", ""); num(p["cost"]) != 150 {
		t.Fatalf("manager lost sight of the cost while a cashier is logged in: %v", p)
	}
	c.must(201, "POST", "/api/shift/open", `{"idempotency_key":"o1","float":1000}`)
	c.must(201, "POST", "/api/sales", `{"idempotency_key":"s1","lines":[{"sku":"1002","qty":2}],"tenders":[{"kind":"cash","amount":498}]}`)
	c.must(201, "POST", "/api/sales", `{"idempotency_key":"s2","lines":[{"sku":"2001","qty":1}],"tenders":[{"kind":"card","amount":599}]}`)
	c.must(201, "POST", "/api/returns", `{"idempotency_key":"r1","lines":[{"sku":"1002","qty":1}],"reason":"stale","approver":"3","approver_pin":"3333"}`)

	day := m.must(200, "GET", "/api/day?date=2025-06-15&heard_since=00:00", "")
	mg := day["margin"].(map[string]any)
	want := map[string]int64{"net": 735, "costed": 232, "cost": 150, "margin": 82, "uncosted": 503}
	for k, v := range want {
		if num(mg[k]) != v {
			t.Fatalf("margin %s = %v, want %v (all: %v)", k, mg[k], v, mg)
		}
	}

	// With a smallest amount of 0.05 in use, a cost of 1.51 is refused.
	m.must(200, "PUT", "/api/settings", `{"smallest_amount":5}`)
	m.fails(http.StatusBadRequest, "cost price of 1002", "PUT", "/api/products/1002",
		`{"sku":"1002","name":"Bread","price":250,"currency":"EUR","tax_rate":700,"unit":"ea","cost":151}`)
	if p := m.must(200, "GET", "/api/products/1002", ""); num(p["cost"]) != 150 || num(p["price"]) != 249 {
		t.Fatalf("a refused edit changed the product: %v", p)
	}
}
