package browsertest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
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
	var seq uint64
	if _, err := fmt.Sscanf(receipt, "1-%d", &seq); err != nil {
		t.Fatalf("receipt %q: %v", receipt, err)
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
