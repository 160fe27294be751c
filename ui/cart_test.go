package ui_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui"
)

func lines(out map[string]any) []map[string]any {
	var ls []map[string]any
	for _, l := range out["lines"].([]any) {
		ls = append(ls, l.(map[string]any))
	}
	return ls
}

func TestCartScanDiscountApprovalCheckout(t *testing.T) {
	e := serve(t)
	c := e.login(t, "2", "0000")
	c.must(200, "POST", "/api/cart/lines", `{"barcode":"4000000100010"}`)
	out := c.must(200, "POST", "/api/cart/lines", `{"barcode":"4000000100010"}`) // same item again: qty 2
	if ls := lines(out); len(ls) != 1 || num(ls[0]["qty"]) != 2 {
		t.Fatalf("second scan of one item: %v", out)
	}
	out = c.must(200, "POST", "/api/cart/lines", `{"sku":"3001","qty":750}`) // 0.750 kg of apples at 2.99/kg
	if ls := lines(out); num(ls[1]["amount"]) != 224 || ls[1]["unit"] != "kg" {
		t.Fatalf("weighed line: %v", ls[1])
	}
	out = c.must(200, "PUT", "/api/cart/lines/0", `{"qty":4}`)
	if num(out["total"]) != 4*119+224 {
		t.Fatalf("total after qty 4: %v", out["total"])
	}
	// 10% is the default limit: 5% needs nobody, 20% a manager.
	out = c.must(200, "PUT", "/api/cart/lines/0", `{"discount":{"kind":"percent","value":500}}`)
	if ls := lines(out); num(ls[0]["line_discount"]) != 24 { // 5% of 4.76 = 0.238
		t.Fatalf("5%% line discount: %v", ls[0])
	}
	before := c.must(200, "GET", "/api/cart", "")
	need := c.fails(http.StatusForbidden, "above the 10% limit", "PUT", "/api/cart/discount", `{"kind":"amount","value":200}`)
	if need["need"] != "approval" {
		t.Fatalf("need %v", need)
	}
	c.fails(http.StatusForbidden, "wrong approver", "PUT", "/api/cart/discount", `{"kind":"amount","value":200,"approver":"1","approver_pin":"0000"}`)
	c.fails(http.StatusForbidden, "Carl is a cashier", "PUT", "/api/cart/discount", `{"kind":"amount","value":200,"approver":"2","approver_pin":"0000"}`)
	if after := c.must(200, "GET", "/api/cart", ""); num(after["version"]) != num(before["version"]) || after["discount"] != nil {
		t.Fatalf("refused discounts changed the cart: %v", after)
	}
	out = c.must(200, "PUT", "/api/cart/discount", `{"kind":"amount","value":200,"approver":"1","approver_pin":"1234"}`)
	if out["approver"] != "1" || num(out["discounts"]) != 224 || num(out["total"]) != 4*119+224-224 {
		t.Fatalf("approved cart discount: %v", out)
	}
	c.fails(http.StatusBadRequest, "more than the cart", "PUT", "/api/cart/discount", `{"kind":"amount","value":99999,"approver":"1","approver_pin":"1234"}`)
	c.fails(http.StatusBadRequest, "above 100%", "PUT", "/api/cart/lines/1", `{"discount":{"kind":"percent","value":10001}}`)

	total := num(out["total"])
	version := num(out["version"])
	// Short tenders: 400 and the cart is still there.
	c.fails(http.StatusBadRequest, "tenders short", "POST", "/api/cart/checkout",
		`{"idempotency_key":"pay1","tenders":[{"kind":"cash","amount":100}]}`)
	c.fails(http.StatusConflict, "changed on another screen", "POST", "/api/cart/checkout",
		`{"idempotency_key":"pay1","version":1,"tenders":[{"kind":"cash","amount":1000}]}`)
	body := `{"idempotency_key":"pay1","version":` + itoa(version) + `,"tenders":[{"kind":"card","amount":200,"ref":"A1"},{"kind":"cash","amount":1000}]}`
	res := c.must(http.StatusCreated, "POST", "/api/cart/checkout", body)
	sale := res["sale"].(map[string]any)
	if res["drawer"] != true || num(sale["total"]) != total || num(sale["change"]) != 1200-total || sale["approver"] != "1" || sale["staff"] != "2" || sale["barcode"] != "RCN1-1" {
		t.Fatalf("checkout: %v", res)
	}
	if cart := c.must(200, "GET", "/api/cart", ""); len(cart["lines"].([]any)) != 0 {
		t.Fatalf("cart not emptied: %v", cart)
	}
	// A double click or a retry: the same sale, nothing new.
	again := c.must(http.StatusOK, "POST", "/api/cart/checkout", body)
	if again["replayed"] != true || again["sale"].(map[string]any)["receipt"] != "1-1" || e.till.sales() != 1 {
		t.Fatalf("retried checkout: %v (%d sales)", again, e.till.sales())
	}
	// The ledger holds the discounts as amounts and the approver.
	e.till.View(func(s *ledger.State) {
		id, _ := s.ID(e.till.self.ID, 1)
		sl, _, _, _ := s.Fold().Sale(id)
		if sl.Lines[0].Discount != 24 || sl.CartDiscount != 200 || sl.Approver != "1" || sl.Lines[1].Qty != 750 || sl.Lines[1].Unit != ledger.Kilogram {
			t.Errorf("recorded sale %+v", sl)
		}
	})
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestManagerNeedsNoApproval(t *testing.T) {
	e := serve(t)
	m := e.login(t, "1", "1234")
	m.must(200, "POST", "/api/cart/lines", `{"sku":"2001"}`)
	out := m.must(200, "PUT", "/api/cart/lines/0", `{"discount":{"kind":"percent","value":5000}}`)
	if out["approver"] != "1" || num(out["total"]) != 299 { // 599 less 50% (2.995 rounds to 3.00)
		t.Fatalf("manager's 50%%: %v", out)
	}
	// The limit is a setting: at 60% a cashier may give 50% alone.
	m.must(200, "PUT", "/api/settings", `{"discount_limit_bp":6000}`)
	m.fails(http.StatusBadRequest, "discount limit", "PUT", "/api/settings", `{"discount_limit_bp":10001}`)
	m.fails(http.StatusBadRequest, "ISO 4217", "PUT", "/api/settings", `{"currency":"eur"}`)
	cashier := e.login(t, "2", "0000")
	// On top of the manager's 50% off the line, 50% off the cart is 75%
	// off in all: above the limit, whoever approved the line.
	cashier.fails(http.StatusForbidden, "in all", "PUT", "/api/cart/discount", `{"kind":"percent","value":5000}`)
	cashier.must(200, "PUT", "/api/cart/lines/0", `{"discount":{"kind":"percent","value":0}}`)
	cashier.must(200, "PUT", "/api/cart/discount", `{"kind":"percent","value":5000}`)
	cashier.fails(http.StatusForbidden, "above the 60% limit", "PUT", "/api/cart/discount", `{"kind":"percent","value":6500}`)
}

func TestPostSaleDiscountAboveLimitNeedsApprover(t *testing.T) {
	e := serve(t)
	c := e.login(t, "2", "0000")
	sale := `{"idempotency_key":"d1","lines":[{"sku":"2001","qty":1,"discount":300}],"tenders":[{"kind":"cash","amount":500}]`
	c.fails(http.StatusForbidden, "above the 10% limit", "POST", "/api/sales", sale+`}`)
	out := c.must(201, "POST", "/api/sales", sale+`,"approver":"1","approver_pin":"1234"}`)
	if num(out["total"]) != 299 {
		t.Fatalf("sale %v", out)
	}
}

func TestRefundAtAnyTill(t *testing.T) {
	e := serve(t)
	// A sale made at till 2 arrives through the mesh.
	e.till.addPeerSale(&ledger.Sale{Currency: "EUR", TaxIncluded: true, Staff: "5",
		Lines:   []ledger.Line{{SKU: "1001", Name: "Milk", Qty: 3, UnitPrice: 119, TaxRate: 700}, {SKU: "2001", Name: "Batteries", Qty: 1, UnitPrice: 599, TaxRate: 1900}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 1000}}, Change: 44})
	c := e.login(t, "2", "0000")
	s := c.must(200, "GET", "/api/sales/RCT2-1", "")
	if s["receipt"] != "2-1" || num(s["refundable"]) != 956 || num(s["till_number"]) != 2 {
		t.Fatalf("sale by receipt barcode: %v", s)
	}
	if s2 := c.must(200, "GET", "/api/sales/"+s["event_id"].(string), ""); s2["receipt"] != "2-1" {
		t.Fatalf("sale by event id: %v", s2)
	}
	c.must(201, "POST", "/api/shift/open", `{"idempotency_key":"o","float":0}`)
	body := `{"idempotency_key":"r1","sale":"2-1","lines":[{"line":0,"qty":2}],"tender":"cash","reason":"sour"}`
	r := c.must(201, "POST", "/api/refunds", body)
	// The shift open before it takes no receipt number: the refund is till 1's first receipt.
	if r["receipt"] != "1-1" || num(r["total"]) != 238 {
		t.Fatalf("refund: %v", r)
	}
	rem := r["sale"].(map[string]any)["remaining"].([]any)
	if num(rem[0].(map[string]any)["qty"]) != 1 || num(rem[1].(map[string]any)["qty"]) != 1 {
		t.Fatalf("remaining after refund: %v", rem)
	}
	if again := c.must(200, "POST", "/api/refunds", body); again["replayed"] != true || again["receipt"] != "1-1" {
		t.Fatalf("retried refund: %v", again)
	}
	c.fails(http.StatusBadRequest, "2 asked, 1 remain", "POST", "/api/refunds", `{"idempotency_key":"r2","sale":"2-1","lines":[{"line":0,"qty":2}]}`)
	r = c.must(201, "POST", "/api/refunds", `{"idempotency_key":"r3","sale":"2-1","lines":[{"line":0,"qty":1},{"line":1,"qty":1}],"tender":"card","ref":"T9"}`)
	if num(r["total"]) != 119+599 || num(r["sale"].(map[string]any)["refundable"]) != 0 {
		t.Fatalf("refund of the rest: %v", r)
	}
	// Stock came back at this till; the peer sold it.
	st := c.must(200, "GET", "/api/stock/1001", "")
	if num(st["total"]) != 0 || num(st["slots"].(map[string]any)["1"]) != 3 || num(st["slots"].(map[string]any)["2"]) != -3 {
		t.Fatalf("stock after refunds: %v", st)
	}
	// A partly refunded sale cannot be voided.
	m := e.login(t, "1", "1234")
	m.fails(http.StatusBadRequest, "partly refunded", "POST", "/api/voids", `{"idempotency_key":"v","sale":"2-1","reason":"x"}`)
}

func TestNegativeStockSaysWhichTillsSold(t *testing.T) {
	e := serve(t)
	e.till.addPeerSale(&ledger.Sale{Currency: "EUR", TaxIncluded: true, Staff: "5",
		Lines: []ledger.Line{{SKU: "1002", Qty: 4, UnitPrice: 249, TaxRate: 700}}, Tenders: []ledger.Tender{{Kind: ledger.Card, Amount: 996}}})
	c := e.login(t, "2", "0000")
	c.must(201, "POST", "/api/sales", `{"idempotency_key":"a","lines":[{"sku":"1002","qty":1}],"tenders":[{"kind":"card","amount":249}]}`)
	st := c.must(200, "GET", "/api/stock/1002", "")
	sold := st["sold_by"].(map[string]any)
	if num(st["total"]) != -5 || num(sold["2"]) != 4 || num(sold["1"]) != 1 {
		t.Fatalf("negative stock: %v", st)
	}
	var all []ui.StockLevel
	resp, b := c.raw("GET", "/api/stock", "")
	if resp.StatusCode != 200 || json.Unmarshal(b, &all) != nil {
		t.Fatalf("all stock: %d %s", resp.StatusCode, b)
	}
	for _, s := range all {
		if (s.Total < 0) != (s.SoldBy != nil) {
			t.Fatalf("%s: total %d sold_by %v", s.SKU, s.Total, s.SoldBy)
		}
	}
}

func TestShiftZReport(t *testing.T) {
	e := serve(t)
	c := e.login(t, "2", "0000")
	c.fails(http.StatusBadRequest, "no shift is open", "POST", "/api/shift/close", `{"idempotency_key":"z0","counted":[]}`)
	c.must(201, "POST", "/api/shift/open", `{"idempotency_key":"o","float":10000}`)
	// 2 x bread = 4.98 paid with 10.00 cash; 5.99 by card; cash in 5.00;
	// cash out 2.50; a no-sale.
	c.must(201, "POST", "/api/sales", `{"idempotency_key":"s1","lines":[{"sku":"1002","qty":2}],"tenders":[{"kind":"cash","amount":1000}]}`)
	c.must(201, "POST", "/api/sales", `{"idempotency_key":"s2","lines":[{"sku":"2001","qty":1}],"tenders":[{"kind":"card","amount":599,"ref":"X"}]}`)
	c.must(201, "POST", "/api/cash", `{"idempotency_key":"c1","direction":"in","amount":500,"reason":"change from bank"}`)
	c.must(201, "POST", "/api/cash", `{"idempotency_key":"c2","direction":"out","amount":250,"reason":"window cleaner"}`)
	c.fails(http.StatusForbidden, "a supervisor must approve", "POST", "/api/nosale", `{"idempotency_key":"n1","reason":"change"}`)
	c.must(201, "POST", "/api/nosale", `{"idempotency_key":"n1","reason":"change","approver":"3","approver_pin":"3333"}`)
	x := c.must(200, "GET", "/api/shift", "")["open"].(map[string]any)
	want := int64(10000 + 498 + 500 - 250)
	if num(x["expected"]) != want || num(x["report"].(map[string]any)["sales"]) != 2 {
		t.Fatalf("X report: %v", x)
	}
	// Counted: 1 x 100.00, 2 x 2.00, 1 x 0.50, 4 x 0.02 = 104.58 against
	// 107.48 expected: 2.90 short.
	out := c.must(201, "POST", "/api/shift/close", `{"idempotency_key":"z","counted":[{"value":10000,"count":1},{"value":200,"count":2},{"value":50,"count":1},{"value":2,"count":4},{"value":500,"count":0}]}`)
	z := out["z"].(map[string]any)
	if num(z["expected"]) != want || num(z["counted"]) != 10458 || num(z["over_short"]) != -290 || z["closed"] == nil {
		t.Fatalf("Z report: %v", z)
	}
	rep := z["report"].(map[string]any)
	tenders := rep["tenders"].(map[string]any)
	if num(rep["sales_total"]) != 498+599 || num(tenders["cash"]) != 498 || num(tenders["card"]) != 599 || num(rep["no_sales"]) != 1 ||
		num(rep["cash_in"]) != 500 || num(rep["cash_out"]) != 250 || len(z["count"].([]any)) != 4 {
		t.Fatalf("Z report figures: %v", rep)
	}
	if st := c.must(200, "GET", "/api/shift", ""); st["open"] != nil || st["last"] == nil {
		t.Fatalf("after close: %v", st)
	}
}

func TestProductsAndSettings(t *testing.T) {
	e := serve(t)
	m := e.login(t, "1", "1234")
	m.fails(http.StatusBadRequest, "wrong check digit", "POST", "/api/products", `{"sku":"9001","name":"Jam","barcodes":["4000000900011"],"price":299}`)
	m.fails(http.StatusConflict, "already belongs to 1001", "POST", "/api/products", `{"sku":"9001","name":"Jam","barcodes":["4000000100010"],"price":299}`)
	m.fails(http.StatusConflict, "already exists", "POST", "/api/products", `{"sku":"1001","name":"Jam","price":299}`)
	m.fails(http.StatusBadRequest, "sku", "POST", "/api/products", `{"sku":"a/b","name":"Jam","price":299}`)
	m.fails(http.StatusBadRequest, "needs a name", "POST", "/api/products", `{"sku":"9001","name":" ","price":299}`)
	m.fails(http.StatusBadRequest, "price", "POST", "/api/products", `{"sku":"9001","name":"Jam","price":-1}`)
	m.fails(http.StatusBadRequest, "unit", "POST", "/api/products", `{"sku":"9001","name":"Jam","price":1,"unit":"box"}`)
	m.fails(http.StatusNotFound, "unknown sku", "PUT", "/api/products/7777", `{"name":"Jam","price":1}`)
	m.fails(http.StatusBadRequest, "path", "PUT", "/api/products/1001", `{"sku":"1002","name":"Jam","price":1}`)
	p := m.must(201, "POST", "/api/products", `{"sku":"9001","name":" Jam ","barcodes":["4000000900016"," "],"price":299,"tax_rate":700}`)
	if p["name"] != "Jam" || p["currency"] != "EUR" || p["unit"] != "ea" || len(p["barcodes"].([]any)) != 1 {
		t.Fatalf("product: %v", p)
	}
	got := m.must(200, "GET", "/api/barcodes/4000000900016", "")
	if got["sku"] != "9001" {
		t.Fatalf("by barcode: %v", got)
	}
	m.fails(http.StatusBadRequest, "check digit", "GET", "/api/barcodes/4000000900017", "")
	var ps []ui.Product
	_, b := m.raw("GET", "/api/products?q=ja&limit=5", "")
	if json.Unmarshal(b, &ps) != nil || len(ps) != 1 || ps[0].SKU != "9001" {
		t.Fatalf("search: %s", b)
	}
	m.fails(http.StatusBadRequest, "limit", "GET", "/api/products?limit=x", "")
	s := m.must(200, "PUT", "/api/settings", `{"discount_limit_bp":1500,"scan_gap_ms":40,"lock_after_s":0,"currency":"GBP"}`)
	if num(s["discount_limit_bp"]) != 1500 || num(s["scan_gap_ms"]) != 40 || s["currency"] != "GBP" {
		t.Fatalf("settings: %v", s)
	}
	if sess := m.must(200, "GET", "/api/session", ""); num(sess["settings"].(map[string]any)["scan_gap_ms"]) != 40 {
		t.Fatalf("session settings: %v", sess)
	}
}

// readEvents reads server-sent events until want returns true or the
// deadline passes.
func readEvents(t *testing.T, c *client, want func(event, data string) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", c.srv.URL+"/api/events", nil)
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var event string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = line[7:]
		case strings.HasPrefix(line, "data: "):
			if want(event, line[6:]) {
				return
			}
		}
	}
	t.Fatalf("event stream ended before the wanted event: %v", sc.Err())
}

func TestEventStreamCartStockStatus(t *testing.T) {
	e := serve(t)
	c := e.login(t, "2", "0000")
	other := e.login(t, "1", "1234")
	seen := map[string]bool{}
	step := 0
	readEvents(t, c, func(event, data string) bool {
		seen[event] = true
		switch {
		case step == 0 && event == "status":
			step = 1
			// Another screen changes the cart; a sale moves stock.
			other.must(200, "POST", "/api/cart/lines", `{"sku":"1001"}`)
		case step == 1 && event == "cart" && strings.Contains(data, `"sku":"1001"`):
			step = 2
			other.must(201, "POST", "/api/sales", `{"idempotency_key":"k","lines":[{"sku":"1002","qty":3}],"tenders":[{"kind":"card","amount":747}]}`)
		case step == 2 && event == "stock":
			var st ui.StockLevel
			if err := json.Unmarshal([]byte(data), &st); err != nil || st.SKU != "1002" || st.Total != -3 || st.SoldBy["1"] != 3 {
				t.Fatalf("stock event %s", data)
			}
			return true
		}
		return false
	})
	if !seen["hello"] {
		t.Fatal("no hello event")
	}
	// The stream ends with the session.
	other.must(200, "POST", "/api/logout", `{}`)
	readEventsEnd(t, other)
}

func readEventsEnd(t *testing.T, c *client) {
	code, out := c.do("GET", "/api/events", "")
	if code != http.StatusUnauthorized {
		t.Fatalf("events after logout: %d %v", code, out)
	}
}

func TestStockMovementErrors(t *testing.T) {
	e := serve(t)
	m := e.login(t, "1", "1234")
	for _, tc := range []struct{ path, body, reason string }{
		{"/api/stock/receive", `{"idempotency_key":"a","lines":[{"sku":"1001","qty":0}]}`, "quantity 0"},
		{"/api/stock/receive", `{"idempotency_key":"a","lines":[{"sku":"1001","qty":-3}]}`, "adds stock"},
		{"/api/stock/receive", `{"idempotency_key":"a","lines":[]}`, "0 lines"},
		{"/api/stock/adjust", `{"idempotency_key":"a","lines":[{"sku":"1001","qty":-3}]}`, "needs a reason"},
		{"/api/stock/count", `{"idempotency_key":"a","lines":[{"sku":"1001"}]}`, "counted"},
		{"/api/stock/count", `{"idempotency_key":"a","lines":[{"sku":"1001","counted":-1}]}`, "counted"},
		{"/api/stock/receive", `{"lines":[{"sku":"1001","qty":3}]}`, "idempotency_key"},
	} {
		m.fails(http.StatusBadRequest, tc.reason, "POST", tc.path, tc.body)
	}
	m.fails(http.StatusNotFound, "unknown sku", "POST", "/api/stock/adjust", `{"idempotency_key":"a","lines":[{"sku":"zz","qty":3}],"reason":"x"}`)
	if e.till.eventCount() != 0 {
		t.Fatal("refused stock movements were recorded")
	}
}

func TestParseReceipt(t *testing.T) {
	for in, want := range map[string]ledger.ReceiptRef{
		"2-17": {Till: 2, N: 17}, "RCN2-17": {Till: 2, N: 17}, "rcn10-1": {Till: 10, N: 1}, " 3-4 ": {Till: 3, N: 4},
		// Barcodes of releases before receipt numbers name a seq.
		"RCT2-17": {Till: 2, N: 17, Legacy: true}, "rct10-1": {Till: 10, N: 1, Legacy: true},
	} {
		got, err := ui.ParseReceipt(in)
		if err != nil || got != want {
			t.Errorf("ParseReceipt(%q) = %+v %v, want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "2", "2-", "-3", "0-1", "1-0", "a-b", "RCT", "RCN", "1-2-3", "99999999999-1"} {
		if _, err := ui.ParseReceipt(bad); err == nil {
			t.Errorf("ParseReceipt(%q) accepted", bad)
		}
	}
	if got := ledger.ReceiptCode(3, 41); got != "RCN3-41" {
		t.Fatalf("ReceiptCode = %q", got)
	}
}

func TestCheckBarcode(t *testing.T) {
	for code, ok := range map[string]bool{
		"4006381333931": true, "4006381333932": false, "96385074": true, "96385075": false,
		"036000291452": true, "036000291453": false, "ABC-123": true, "12345": true, "": false, "a b": false,
	} {
		if err := ui.CheckBarcode(code); (err == nil) != ok {
			t.Errorf("CheckBarcode(%q) = %v, want ok=%v", code, err, ok)
		}
	}
}

// The scale's weight reaches the pages live as "weight" events; a
// negative reading goes as 0 (nothing stable on the scale).
func TestEventStreamWeight(t *testing.T) {
	e := serve(t)
	c := e.login(t, "2", "0000")
	step := 0
	readEvents(t, c, func(event, data string) bool {
		switch {
		case step == 0 && event == "status":
			step = 1
			e.api.Weighed(750)
		case step == 1 && event == "weight":
			if data != `{"grams":750}` {
				t.Fatalf("weight event %s", data)
			}
			step = 2
			e.api.Weighed(-5)
		case step == 2 && event == "weight":
			if data != `{"grams":0}` {
				t.Fatalf("weight event of a negative reading %s", data)
			}
			return true
		}
		return false
	})
}
