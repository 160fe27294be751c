package browsertest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/ui"
)

// TestCustomerByScannedCard: a cashier opens the Customers screen, scans
// a loyalty card with a wedge scanner, gets the customer, attaches them
// to the sale, sells, and the receipt and the signed sale carry the
// customer's number, which then shows in the customer's purchases.
func TestCustomerByScannedCard(t *testing.T) {
	path := chromiumOrSkip(t)
	a := loneTill(t, "Corner Shop")
	ctx := t.Context()
	cat := node.DemoCatalog(3)
	var lines []ledger.StockLine
	for _, p := range cat {
		if err := a.Inventory().PutProduct(ctx, p); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, ledger.StockLine{SKU: p.SKU, Qty: 100_000})
	}
	if _, _, err := a.Record(ctx, &ledger.StockReceive{Lines: lines, Staff: "1"}, "opening"); err != nil {
		t.Fatal(err)
	}
	if err := a.AddStaff(ctx, "2", "Carl Cashier", ui.RoleCashier, "0000"); err != nil {
		t.Fatal(err)
	}
	// Bursts get 300 ms between keys: each key is three DevTools round
	// trips on a shared machine (as in TestTillInTheBrowser).
	if err := a.PutSetting(ctx, ui.SettingScanGap, "300"); err != nil {
		t.Fatal(err)
	}
	c, err := a.CreateCustomer(ctx, ui.Customer{Name: "Anna Meier", Phone: "0171 5550101", Card: "LOY-4242"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateCustomer(ctx, ui.Customer{Name: "Anna Other", Phone: "0171 5550102", Card: "LOY-4243"}); err != nil {
		t.Fatal(err)
	}

	br := newBrowser(t, path)
	p := br.page("till")
	login(t, p, a.url, "2", "0000")
	nav(t, p, "customers")
	do(t, p, "focus the search", chromedp.Click("#cust-q"))
	wedge(t, p, "LOY-4242")
	until(t, p, "the customer found by the card", fmt.Sprintf(`!document.querySelector('#cust-form').hidden && document.querySelector('#cust-title').textContent.includes(%q)`, c.Number))
	if got := js[string](t, p, `document.querySelector('#cust-form').elements.name.value`); got != "Anna Meier" {
		t.Fatalf("the form shows %q, want Anna Meier", got)
	}
	if n := js[int](t, p, `document.querySelectorAll('#cust-results li').length`); n != 1 {
		t.Fatalf("the card found %d customers, want exactly 1", n)
	}
	br.shot(p, "customers")

	do(t, p, "attach", chromedp.Click("#cust-attach"), chromedp.WaitVisible("#view-sale"))
	until(t, p, "the customer on the sale screen", fmt.Sprintf(`!document.querySelector('#sale-customer').hidden && document.querySelector('#sale-customer').textContent.includes(%q)`, c.Number))
	wedge(t, p, cat[0].Barcodes[0])
	until(t, p, "the item in the cart", `document.querySelectorAll('#cart-lines tr').length === 1`)
	total := cents(t, text(t, p, "#t-total"))
	do(t, p, "pay", chromedp.Click("#btn-pay"), chromedp.WaitVisible("#tender-amount"))
	setInput(t, p, "#tender-amount", fmt.Sprintf("%d.%02d", total/100, total%100))
	do(t, p, "cash", chromedp.Click("#pay-cash"), chromedp.WaitVisible("#view-receipt"))
	if got := text(t, p, "#receipt-customer"); got != "Customer "+c.Number {
		t.Fatalf("receipt customer line %q, want %q", got, "Customer "+c.Number)
	}
	receipt := text(t, p, "#receipt-number")
	br.shot(p, "receipt-customer")

	// The signed sale names the customer, and the customer's history shows it.
	var n, seq uint64
	if _, err := fmt.Sscanf(receipt, "1-%d", &n); err != nil {
		t.Fatalf("receipt %q: %v", receipt, err)
	}
	var ok bool
	a.DB().View(func(s *ledger.State) { seq, ok = s.ReceiptSeq(a.ID(), n) })
	if !ok {
		t.Fatalf("receipt %s: no such receipt number at till 1", receipt)
	}
	ev, err := a.Event(a.ID(), seq)
	if err != nil {
		t.Fatal(err)
	}
	if got := ev.Body.(*ledger.Sale).Customer; got != c.Number {
		t.Fatalf("signed sale names customer %q, want %q", got, c.Number)
	}
	nav(t, p, "customers")
	do(t, p, "search by phone", chromedp.Click("#cust-q"), chromedp.SendKeys("#cust-q", "5550101\n"))
	until(t, p, "the purchase in the history", fmt.Sprintf(`document.querySelector('#cust-history').textContent.includes(%q)`, receipt))
	if errs := br.jsErrors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors: %s", strings.Join(errs, "; "))
	}
}

// TestHQCustomersPage: HQ lists and searches the chain's customers and
// erases one; only the number stays.
func TestHQCustomersPage(t *testing.T) {
	path := chromiumOrSkip(t)
	ctx := context.Background()
	h, store, url := hqWithStore(t, 95)
	recs := []hqapi.CustomerRecord{
		{Number: "100000000001", Edits: []hqapi.CustomerEdit{{Field: "name", Value: "Anna Meier", Wall: 1, By: "t1"}, {Field: "phone", Value: "0171 5550101", Wall: 1, By: "t1"}}},
		{Number: "100000000002", Edits: []hqapi.CustomerEdit{{Field: "name", Value: "Ben Becker", Wall: 1, By: "t1"}}},
	}
	if _, err := h.PutCustomers(ctx, store.ID, recs); err != nil {
		t.Fatal(err)
	}
	br := newBrowser(t, path)
	p := br.page("hq")
	do(t, p, "open HQ", chromedp.Navigate(url), chromedp.WaitVisible("#login-form"))
	loginHQ(t, p)
	do(t, p, "customers", chromedp.Click(`#nav button[data-tab=customers]`), chromedp.WaitVisible("#customer-table"))
	until(t, p, "both customers", `document.querySelectorAll('#customer-table tbody tr').length === 2`)
	setInput(t, p, `#customer-search input[name=q]`, "anna")
	do(t, p, "search", chromedp.Click(`#customer-search button`))
	until(t, p, "the search", `document.querySelectorAll('#customer-table tbody tr').length === 1 && document.querySelector('#customer-table tbody tr').dataset.number === '100000000001'`)
	js[bool](t, p, `(window.confirm = () => true, true)`)
	do(t, p, "erase", chromedp.Click(`#customer-table tbody tr button.erase`))
	until(t, p, "erased", `document.querySelector('#customer-status').textContent.includes('erased')`)
	br.shot(p, "hq-customers")
	got, err := h.SearchCustomers(ctx, "100000000001", 10)
	if err != nil || len(got) != 1 || !got[0].Erased || got[0].Name != "" || got[0].Phone != "" {
		t.Fatalf("after erasure HQ holds %+v, %v", got, err)
	}
	if errs := br.jsErrors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors: %v", errs)
	}
}
