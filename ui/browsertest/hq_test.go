package browsertest_test

import (
	"context"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
)

// An HQ admin's first day: nothing shows before login, the catalog lists
// what the store's tills hold, and a price edit loaded from the product
// changes the price and nothing else (it used to wipe the barcodes).
func TestHQCatalogInTheBrowser(t *testing.T) {
	path := chromiumOrSkip(t)
	ctx := context.Background()
	h, store, url := hqWithStore(t, 90)
	bread := hqapi.Product{SKU: "10002", Name: "Bread small", Barcodes: []string{"4000000100027"}, Price: 129, Currency: "EUR", TaxRate: 700, Unit: "ea"}
	tea := hqapi.Product{SKU: "10003", Name: "Tea small", Barcodes: []string{"4000000100034"}, Price: 249, Currency: "EUR", TaxRate: 700, Unit: "ea"}
	if err := h.PutStoreCatalog(ctx, store.ID, hqapi.StoreCatalog{Products: []hqapi.Product{bread, tea}, At: 1}); err != nil {
		t.Fatal(err)
	}

	br := newBrowser(t, path)
	p := br.page("hq")
	do(t, p, "open HQ", chromedp.Navigate(url), chromedp.WaitVisible("#login-form"))
	// Before login only the login form shows: the tabs used to show and
	// fail silently.
	if !js[bool](t, p, `getComputedStyle(document.querySelector('#nav')).display === 'none' && [...document.querySelectorAll('.tab')].every(s => getComputedStyle(s).display === 'none')`) {
		t.Fatal("tabs show before login")
	}
	loginHQ(t, p)
	do(t, p, "catalog", chromedp.Click(`#nav button[data-tab=catalog]`), chromedp.WaitVisible("#catalog-table"))
	until(t, p, "the store's products", `document.querySelectorAll('#catalog-table tr.clickable').length === 2`)
	setInput(t, p, "#catalog-search", "bread")
	until(t, p, "search", `document.querySelectorAll('#catalog-table tr.clickable').length === 1`)
	do(t, p, "edit bread", chromedp.Click(`#catalog-table tr.clickable`))
	until(t, p, "form loaded", `document.querySelector('#product-form').sku.value === '10002' && document.querySelector('#product-form').price.value === '1.29'`)
	if v := js[string](t, p, `document.querySelector('#product-form').barcodes.value`); v != "4000000100027" {
		t.Fatalf("barcodes in the form: %q", v)
	}
	setInput(t, p, `#product-form input[name=price]`, "1.49")
	do(t, p, "save", chromedp.Click(`#product-form button[type=submit]`))
	until(t, p, "saved", `document.querySelector('#product-status').textContent.startsWith('Saved 10002 (price)')`)
	cs, err := h.ChangesFor(ctx, store.ID, 0, 10)
	if err != nil || len(cs.Changes) != 1 {
		t.Fatalf("changes: %+v %v", cs, err)
	}
	c := cs.Changes[0]
	if !slices.Equal(c.Fields, []string{hqapi.FieldPrice}) || c.Product.Price != 149 || !slices.Equal(c.Product.Barcodes, bread.Barcodes) {
		t.Errorf("the change the form made: fields %v product %+v", c.Fields, c.Product)
	}
	br.shot(p, "hq-catalog")
	// A price typed badly is refused with a message, not sent.
	setInput(t, p, `#product-form input[name=price]`, "1,4,9")
	do(t, p, "save bad", chromedp.Click(`#product-form button[type=submit]`))
	until(t, p, "bad price message", `document.querySelector('#product-error').textContent.includes('like 19.99') || document.querySelector('#product-form').price.validity.patternMismatch`)
	if errs := br.jsErrors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors: %v", errs)
	}
}

// An HQ admin sees which release each till runs and, while a store mixes
// releases, that HQ holds events from a newer version it leaves out of
// its figures.
func TestHQShowsTillReleasesAndNewerEvents(t *testing.T) {
	path := chromiumOrSkip(t)
	ctx := context.Background()
	h, store, url := hqWithStore(t, 93)
	const day0 = int64(1_767_225_600_000)
	w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(93, 94)))
	sales := w.Sales(3, day0, 60_000)
	till := store.Tills[0]
	fut, _, err := ledgertest.SignRaw(till.Key, store.ID, till.Seq+1, till.Prev, till.Clock.Next(day0+600_000), ledgertest.FutureKind, ledgertest.Future(1), "k-future")
	if err != nil {
		t.Fatal(err)
	}
	var raw [][]byte
	for _, ev := range append(sales, fut) {
		raw = append(raw, ev.Bytes())
	}
	u := &hqapi.Upload{Fence: 1, Events: raw, Certs: store.EncodedCerts(), Versions: map[ledger.TillID]string{till.ID: "v9.9.9-test"}}
	if res, err := h.Ingest(ctx, store.ID, till.ID, u); err != nil || res.Accepted != 4 {
		t.Fatalf("ingest: %+v %v", res, err)
	}

	br := newBrowser(t, path)
	p := br.page("hq-stores")
	do(t, p, "open HQ", chromedp.Navigate(url), chromedp.WaitVisible("#login-form"))
	loginHQ(t, p)
	do(t, p, "stores", chromedp.Click(`#nav button[data-tab=stores]`), chromedp.WaitVisible("#store-table"))
	until(t, p, "the store listed with the warning", `[...document.querySelectorAll('#store-table tr.clickable')].some(r => r.innerText.includes('1 event from a newer version (kind future_kind)'))`)
	clickStoreRow(t, p)
	until(t, p, "the till's release", `document.querySelector('#store-detail td.release') && document.querySelector('#store-detail td.release').textContent === 'v9.9.9-test'`)
	until(t, p, "the warning in the detail", `document.querySelector('#newer-warning') && document.querySelector('#newer-warning').textContent.startsWith('1 event from a newer version')`)
	if errs := br.jsErrors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors: %v", errs)
	}
}

// hqWithStore starts HQ on embedded storage, registers one store of one
// till (hqtest.NewStore(seed, 1)) named "Corner Shop", and sets the admin
// "boss" with password "correct horse". It returns HQ, the store and the
// URL HQ is served at.
func hqWithStore(t *testing.T, seed byte) (*hq.HQ, *hqtest.Store, string) {
	t.Helper()
	ctx := context.Background()
	st, err := hq.OpenBadger(t.TempDir(), quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := hq.DefaultConfig()
	cfg.Storage, cfg.Logger = st, quiet()
	h, err := hq.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Before the storage closes (cleanups run last first): the dashboard's
	// chain report refreshes in the background and must not read a closed
	// Badger.
	t.Cleanup(h.StopRefreshes)
	store := hqtest.NewStore(seed, 1)
	if err := h.RegisterStore(ctx, store.ID, "Corner Shop", store.CAPublic()); err != nil {
		t.Fatal(err)
	}
	if err := h.SetPassword(ctx, "boss", "correct horse"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	return h, store, srv.URL
}

// loginHQ logs in as hqWithStore's admin on the login form p shows.
func loginHQ(t *testing.T, p context.Context) {
	t.Helper()
	do(t, p, "log in", chromedp.SendKeys(`#login-form input[name=user]`, "boss"), chromedp.SendKeys(`#login-form input[name=password]`, "correct horse"),
		chromedp.Click(`#login-form button`), chromedp.WaitVisible("#nav"))
}

// clickStoreRow opens the first store of HQ's stores page. The page
// redraws its table every 5 s: a click by node id can find its row
// replaced ("Could not find node"); clicking in the page takes whichever
// row is there.
func clickStoreRow(t *testing.T, p context.Context) {
	t.Helper()
	js[bool](t, p, `(() => { document.querySelector('#store-table tr.clickable').click(); return true })()`)
}
