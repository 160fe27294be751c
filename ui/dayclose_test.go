package ui_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
)

// The business-day close adds up every till's shifts of the day and
// warns of an open shift and of a till not heard from since a time.
func TestDayCloseAcrossTills(t *testing.T) {
	e := serve(t)
	c := e.login(t, "2", "0000")
	c.must(201, "POST", "/api/shift/open", `{"idempotency_key":"o1","float":1000}`)
	c.must(201, "POST", "/api/sales", `{"idempotency_key":"s1","lines":[{"sku":"1002","qty":2}],"tenders":[{"kind":"cash","amount":498}]}`)
	c.must(201, "POST", "/api/sales", `{"idempotency_key":"s2","lines":[{"sku":"2001","qty":1}],"tenders":[{"kind":"card","amount":599}]}`)
	c.must(201, "POST", "/api/shift/close", `{"idempotency_key":"z1","counted":[{"value":1000,"count":1},{"value":498,"count":1}]}`)
	c.must(201, "POST", "/api/shift/open", `{"idempotency_key":"o2","float":500}`)
	c.must(201, "POST", "/api/sales", `{"idempotency_key":"s3","lines":[{"sku":"1001","qty":1}],"tenders":[{"kind":"cash","amount":119}]}`)
	// Till 2 sold outside a shift and was last heard then.
	e.till.addPeerSale(&ledger.Sale{Currency: "EUR", TaxIncluded: true, Staff: "5",
		Lines: []ledger.Line{{SKU: "1001", Qty: 1, UnitPrice: 119, TaxRate: 700}}, Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 119}}})

	c.fails(http.StatusForbidden, "permission reports", "GET", "/api/day?date=2025-06-15", "")
	m := e.login(t, "1", "1234")
	m.fails(http.StatusBadRequest, "want YYYY-MM-DD", "GET", "/api/day?date=15.06.2025", "")
	m.fails(http.StatusBadRequest, "want HH:MM", "GET", "/api/day?date=2025-06-15&heard_since=noon", "")
	day := m.must(200, "GET", "/api/day?date=2025-06-15&heard_since=23:00", "")
	tills := day["tills"].([]any)
	if len(tills) != 2 {
		t.Fatalf("tills in the day: %v", tills)
	}
	t1 := tills[0].(map[string]any)
	if num(t1["till"]) != 1 || len(t1["shifts"].([]any)) != 2 {
		t.Fatalf("till 1's day: %v", t1)
	}
	store := day["store"].(map[string]any)
	if num(store["sales"]) != 3 || num(store["total"]) != 498+599+119 || len(store["bands"].([]any)) != 2 {
		t.Fatalf("store day total: %v", store)
	}
	ws := strings.Join(func() []string {
		var out []string
		for _, w := range day["warnings"].([]any) {
			out = append(out, w.(string))
		}
		return out
	}(), "\n")
	if !strings.Contains(ws, "till 1: the shift opened at") || !strings.Contains(ws, "till 2 not heard from since") || day["complete"] != false {
		t.Fatalf("warnings %q", ws)
	}
	// Another day has nothing; heard since earlier drops till 2's warning.
	if other := m.must(200, "GET", "/api/day?date=2025-06-14&heard_since=00:00", ""); len(other["tills"].([]any)) != 0 {
		t.Fatalf("a day without trade: %v", other)
	}
	early := m.must(200, "GET", "/api/day?date=2025-06-15&heard_since=00:00", "")
	for _, w := range early["warnings"].([]any) {
		if strings.Contains(w.(string), "not heard") {
			t.Fatalf("warning with heard_since 00:00: %v", w)
		}
	}
}
