package ui_test

import (
	"net/http"
	"testing"
)

// Refunds, cash movements and no-sales need an open shift at the till:
// before it opens and after it closes they are refused and nothing is
// recorded; a retry of one made during the shift still gets its event.
func TestDrawerMovesNeedAnOpenShift(t *testing.T) {
	e := serve(t)
	m := e.login(t, "1", "1234")
	m.must(201, "POST", "/api/sales", `{"idempotency_key":"s","lines":[{"sku":"1002","qty":2}],"tenders":[{"kind":"cash","amount":498}]}`)
	refund := `{"idempotency_key":"r","sale":"1-1","lines":[{"line":0,"qty":1}]}`
	cashIn := `{"idempotency_key":"ci","direction":"in","amount":500,"reason":"float top-up"}`
	cashOut := `{"idempotency_key":"co","direction":"out","amount":100,"reason":"safe drop"}`
	noSale := `{"idempotency_key":"ns","reason":"change"}`
	refuse := func(when string) {
		t.Helper()
		before := e.till.eventCount()
		m.fails(http.StatusBadRequest, "no shift is open", "POST", "/api/refunds", refund)
		m.fails(http.StatusBadRequest, "no shift is open", "POST", "/api/cash", cashIn)
		m.fails(http.StatusBadRequest, "no shift is open", "POST", "/api/cash", cashOut)
		m.fails(http.StatusBadRequest, "no shift is open", "POST", "/api/nosale", noSale)
		if got := e.till.eventCount(); got != before {
			t.Fatalf("%s: refused drawer moves recorded %d events", when, got-before)
		}
	}
	refuse("before the shift")
	m.must(201, "POST", "/api/shift/open", `{"idempotency_key":"o","float":1000}`)
	m.must(201, "POST", "/api/refunds", refund)
	m.must(201, "POST", "/api/cash", cashIn)
	m.must(201, "POST", "/api/cash", cashOut)
	m.must(201, "POST", "/api/nosale", noSale)
	m.must(201, "POST", "/api/shift/close", `{"idempotency_key":"z","counted":[{"value":1000,"count":2}]}`)
	// Retries of the shift's own events answer with them.
	m.must(200, "POST", "/api/cash", cashIn)
	m.must(200, "POST", "/api/nosale", noSale)
	{
		before := e.till.eventCount()
		m.fails(http.StatusBadRequest, "no shift is open", "POST", "/api/refunds", `{"idempotency_key":"r2","sale":"1-1","lines":[{"line":0,"qty":1}]}`)
		m.fails(http.StatusBadRequest, "no shift is open", "POST", "/api/cash", `{"idempotency_key":"ci2","direction":"in","amount":500,"reason":"x"}`)
		m.fails(http.StatusBadRequest, "no shift is open", "POST", "/api/nosale", `{"idempotency_key":"ns2"}`)
		if e.till.eventCount() != before {
			t.Fatalf("after the shift: refused drawer moves were recorded")
		}
	}
}
