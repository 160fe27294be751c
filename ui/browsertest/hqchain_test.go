package browsertest_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
)

// HQ's chain tabs in a browser: charts drawn as SVG bars, a transfer in
// transit, and low stock against a reorder point.
func TestHQChainTabsInTheBrowser(t *testing.T) {
	path := chromiumOrSkip(t)
	ctx := context.Background()
	h, store, url := hqWithStore(t, 95)
	const day0 = int64(1_767_225_600_000)
	w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(95, 96)))
	evs := w.Sales(40, day0, 600_000)
	till := store.Tills[0]
	out, err := till.Next(&ledger.TransferOut{Number: "t-1-99", To: ledger.StoreID{9}, Lines: []ledger.StockLine{{SKU: "1001", Qty: 2}}, Staff: "1"}, day0+50_000_000, "k-out")
	if err != nil {
		t.Fatal(err)
	}
	var raw [][]byte
	for _, ev := range append(evs, out) {
		raw = append(raw, ev.Bytes())
	}
	if res, err := h.Ingest(ctx, store.ID, till.ID, &hqapi.Upload{Fence: 1, Events: raw, Certs: store.EncodedCerts()}); err != nil || len(res.Rejected) > 0 {
		t.Fatalf("ingest: %+v %v", res, err)
	}
	cat := hqapi.StoreCatalog{Products: []hqapi.Product{{SKU: "1001", Name: "Milk 1L", Price: 99, Currency: "EUR", TaxRate: 700, Unit: ledger.Each, Reorder: 1_000_000}}, At: day0}
	if err := h.PutStoreCatalog(ctx, store.ID, cat); err != nil {
		t.Fatal(err)
	}

	br := newBrowser(t, path)
	p := br.page("hq-chain")
	do(t, p, "open HQ", chromedp.Navigate(url), chromedp.WaitVisible("#login-form"))
	loginHQ(t, p)
	do(t, p, "charts", chromedp.Click(`#nav button[data-tab=charts]`), chromedp.WaitVisible("#chart-form"))
	until(t, p, "bars drawn", `document.querySelectorAll('#chart-hours rect.chart-bar').length === 24 && document.querySelectorAll('#chart-stores rect.chart-bar').length === 1 && document.querySelectorAll('#chart-days rect.chart-bar').length >= 1`)
	// The charts say how old their figures are, as the report table does:
	// the served report's as_of, at most a minute before now.
	until(t, p, "charts' figures dated", `(() => {
		const e = document.querySelector('#chart-as-of');
		const at = Number(e.dataset.asOf);
		return !e.hidden && /^Charts of the figures as of .+ \(\d+ s ago\)$/.test(e.innerText.trim()) &&
			at > Date.now() - 60000 && at <= Date.now() + 1000;
	})()`)
	do(t, p, "transfers", chromedp.Click(`#nav button[data-tab=transfers]`), chromedp.WaitVisible("#transfer-form"))
	until(t, p, "the transfer in transit", `[...document.querySelectorAll('#transfer-table tbody tr')].some(r => r.innerText.includes('t-1-99') && r.innerText.includes('in transit'))`)
	do(t, p, "low stock", chromedp.Click(`#nav button[data-tab=health]`), chromedp.WaitVisible("#health-stores"))
	until(t, p, "Milk low", `[...document.querySelectorAll('#health-low tbody tr')].some(r => r.innerText.includes('Milk 1L'))`)
	do(t, p, "stores", chromedp.Click(`#nav button[data-tab=stores]`), chromedp.WaitVisible("#day-form"))
	do(t, p, "business day", chromedp.SetValue(`#day-form select[name=store]`, store.ID.String()),
		chromedp.SendKeys(`#day-form input[name=tz]`, "Mars/Olympus"), chromedp.Click(`#day-form button`))
	until(t, p, "a bad zone refused", `document.querySelector('#day-msg').textContent.includes('IANA')`)
	do(t, p, "a good zone", chromedp.SetValue(`#day-form input[name=tz]`, "UTC"), chromedp.SetValue(`#day-form input[name=end]`, "02:00"), chromedp.Click(`#day-form button`))
	until(t, p, "saved", `document.querySelector('#day-msg').textContent.startsWith('Saved: UTC, days end at 02:00')`)
	if errs := br.jsErrors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors: %v", errs)
	}
}
