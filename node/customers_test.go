package node_test

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/ui"
)

// TestCustomersAcrossTills drives two tills over HTTP: a customer created
// at till 1 under the store's required fields is found at till 2 by a
// scanned card, edited there, attached to a sale at till 1 (the number
// goes into the signed sale), shows the sale in its history at till 2,
// and once erased keeps only its number everywhere. Bad input changes
// nothing.
func TestCustomersAcrossTills(t *testing.T) {
	s := newStore(t, 2)
	a := s.start(t, s.tills[0])
	b := s.start(t, s.tills[1], a.addr())
	seed(t, a, 5)
	seedStaff(t, a)
	waitFor(t, "staff on till 2", func() bool { _, err := b.Authenticate(t.Context(), "2", "0000"); return err == nil })
	ua, ub := serveUI(t, a), serveUI(t, b)
	ma := login(t, ua, "1", "1234") // manager
	ca := login(t, ua, "2", "0000") // cashier
	cb := login(t, ub, "2", "0000")

	ma.must(200, "PUT", "/api/customer-fields", `{"required":["name","phone"]}`)
	if code, _ := ca.do("PUT", "/api/customer-fields", `{"required":[]}`); code != 403 {
		t.Fatalf("cashier set required fields: %d, want 403", code)
	}
	if code, out := ma.do("PUT", "/api/customer-fields", `{"required":["shoe_size"]}`); code != 400 || !strings.Contains(out["error"].(string), "shoe_size") {
		t.Fatalf("unknown required field: %d %v", code, out)
	}
	for _, bad := range []struct{ body, names string }{
		{`{"name":"Anna Meier"}`, "phone"},
		{`{"name":"Anna Meier","phone":"12ab"}`, "phone"},
		{`{"name":"Anna Meier","phone":"0171 5550101","email":"anna(at)example.com"}`, "email"},
		{fmt.Sprintf(`{"name":%q,"phone":"0171 5550101"}`, strings.Repeat("A", 201)), "name"},
		{`{"number":"123","name":"Anna Meier","phone":"0171 5550101"}`, "number"},
	} {
		code, out := ca.do("POST", "/api/customers", bad.body)
		if code != 400 || !strings.Contains(fmt.Sprint(out["error"]), bad.names) {
			t.Fatalf("create %s: %d %v, want 400 naming %s", bad.body, code, out, bad.names)
		}
	}
	if n, _ := a.Inventory().CustomerCount(); n != 0 {
		t.Fatalf("bad input stored %d customers", n)
	}
	c := ca.must(201, "POST", "/api/customers", `{"name":"Anna Meier","phone":"0171 5550101","card":"LOY-0001","consent":true}`)
	number := c["number"].(string)
	if len(number) != 12 || c["home_store"] == "" {
		t.Fatalf("created %v", c)
	}
	if code, _ := ca.do("POST", "/api/customers", `{"name":"Other","phone":"0171 5550102","card":"LOY-0001"}`); code != 409 {
		t.Fatalf("second customer with the same card: %d, want 409", code)
	}

	// Till 2 finds her by the scanned card and edits her phone.
	waitFor(t, "the customer on till 2", func() bool {
		out := cb.must(200, "GET", "/api/customers?q="+url.QueryEscape("LOY-0001"), "")
		cs := out["customers"].([]any)
		return len(cs) == 1 && cs[0].(map[string]any)["number"] == number
	})
	cb.must(200, "PUT", "/api/customers/"+number, `{"name":"Anna Meier","phone":"0171 5550199","card":"LOY-0001","consent":true}`)
	if code, _ := cb.do("PUT", "/api/customers/"+number, `{"name":"Anna Meier","card":"LOY-0001"}`); code != 400 {
		t.Fatalf("edit dropping a required field: %d, want 400", code)
	}
	if code, _ := cb.do("PUT", "/api/customers/999999999999", `{"name":"X","phone":"0171 5550101"}`); code != 404 {
		t.Fatalf("edit of an unknown customer: %d, want 404", code)
	}
	waitFor(t, "the edit on till 1", func() bool {
		out := ca.must(200, "GET", "/api/customers?q=5550199", "")
		return len(out["customers"].([]any)) == 1
	})

	// Attach to a sale at till 1.
	if code, _ := ca.do("PUT", "/api/cart/customer", `{"number":"123456789012"}`); code != 404 {
		t.Fatalf("attach an unknown customer: %d, want 404", code)
	}
	ca.must(200, "PUT", "/api/cart/customer", fmt.Sprintf(`{"number":%q}`, number))
	cat := node.DemoCatalog(5)
	cart := ca.must(200, "POST", "/api/cart/lines", fmt.Sprintf(`{"barcode":%q}`, cat[0].Barcodes[0]))
	res := ca.must(201, "POST", "/api/cart/checkout", fmt.Sprintf(`{"idempotency_key":"cust-1","tenders":[{"kind":"cash","amount":%d}]}`, n(cart["total"])))
	sale := res["sale"].(map[string]any)
	if sale["customer"] != number {
		t.Fatalf("sale %v does not name customer %s", sale, number)
	}
	if out := ca.must(200, "GET", "/api/cart/customer", ""); out["customer"] != nil {
		t.Fatalf("the customer stayed attached after the sale: %v", out)
	}
	ev, err := a.Event(a.ID(), uint64(n(sale["seq"])))
	if err != nil || ev.Body.(*ledger.Sale).Customer != number {
		t.Fatalf("signed sale: %v, %v", ev, err)
	}
	waitFor(t, "the sale in the history on till 2", func() bool {
		out := cb.must(200, "GET", "/api/customers/"+number+"/sales", "")
		ss := out["sales"].([]any)
		return len(ss) == 1 && ss[0].(map[string]any)["receipt"] == sale["receipt"]
	})
	// A sale naming an unknown customer is refused before it is signed.
	if _, _, err := a.Sell(t.Context(), saleReq("cust-2", cat[0].SKU, "123456789012")); err == nil || !strings.Contains(err.Error(), "123456789012") {
		t.Fatalf("sale for an unknown customer: %v", err)
	}

	// Erasure: a cashier may not; the manager may, and it reaches till 2.
	if code, _ := ca.do("DELETE", "/api/customers/"+number, ""); code != 403 {
		t.Fatalf("cashier erased: %d, want 403", code)
	}
	ma.must(200, "DELETE", "/api/customers/"+number, "")
	waitFor(t, "erased on till 2", func() bool {
		out := cb.must(200, "GET", "/api/customers/"+number, "")
		return out["erased"] == true && out["name"] == nil && out["phone"] == nil
	})
	for _, q := range []string{"Anna", "LOY-0001", "5550199"} {
		if out := cb.must(200, "GET", "/api/customers?q="+url.QueryEscape(q), ""); len(out["customers"].([]any)) != 0 {
			t.Fatalf("search %q after erasure: %v", q, out)
		}
	}
	if code, _ := cb.do("PUT", "/api/customers/"+number, `{"name":"Anna Back","phone":"0171 5550101"}`); code != 409 {
		t.Fatalf("edit after erasure: %d, want 409", code)
	}
	if code, _ := cb.do("PUT", "/api/cart/customer", fmt.Sprintf(`{"number":%q}`, number)); code != 400 {
		t.Fatalf("attach an erased customer: %d, want 400", code)
	}
	// The ledger keeps the number and the history stays.
	if out := cb.must(200, "GET", "/api/customers/"+number+"/sales", ""); len(out["sales"].([]any)) != 1 {
		t.Fatalf("history after erasure: %v", out)
	}
}

func saleReq(key, sku, customer string) ui.SaleRequest {
	return ui.SaleRequest{IdempotencyKey: key, Customer: customer,
		Lines: []ui.SaleLine{{SKU: sku, Qty: 1}}, Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 100_000}}}
}

// TestCustomerCardRace: requests released together at one till, each
// registering a customer with the same loyalty card: exactly one gets it.
func TestCustomerCardRace(t *testing.T) {
	s := newStore(t, 1)
	a := s.start(t, s.tills[0])
	seedStaff(t, a)
	ua := serveUI(t, a)
	const n = 8
	clients := make([]*web, n)
	for i := range clients {
		clients[i] = login(t, ua, "2", "0000")
	}
	codes := make(chan int, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			<-start
			code, _ := c.do("POST", "/api/customers", fmt.Sprintf(`{"name":"Racer %d","card":"LOY-RACE"}`, i))
			codes <- code
		})
	}
	close(start)
	wg.Wait()
	close(codes)
	got := map[int]int{}
	for c := range codes {
		got[c]++
	}
	if got[201] != 1 || got[409] != n-1 {
		t.Fatalf("answers %v, want one 201 and %d 409", got, n-1)
	}
	if cs := a.Inventory().CustomersByCard("LOY-RACE"); len(cs) != 1 {
		t.Fatalf("%d customers hold the card", len(cs))
	}
}
