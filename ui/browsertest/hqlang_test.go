package browsertest_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// TestHQInEachLanguage: a so'm chain's HQ, read in English, Russian and
// Uzbek. Every tab shows catalog text only (no key in ⟦ ⟧), the picker
// keeps the choice across a reload, and an amount reads exactly as the
// Go side writes it (i18n.FormatMoney), cash rounding included.
func TestHQInEachLanguage(t *testing.T) {
	path := chromiumOrSkip(t)
	ctx := context.Background()
	st, err := hq.OpenBadger(t.TempDir(), quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := hq.DefaultConfig()
	cfg.Storage, cfg.Logger, cfg.Currency = st, quiet(), "UZS"
	h, err := hq.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Before the storage closes (cleanups run last first): the dashboard's
	// chain report refreshes in the background and must not read a closed
	// Badger.
	t.Cleanup(h.StopRefreshes)
	store := hqtest.NewStore(97, 1)
	if err := h.RegisterStore(ctx, store.ID, "Chorsu", store.CAPublic()); err != nil {
		t.Fatal(err)
	}
	if err := h.SetPassword(ctx, "boss", "correct horse"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	const day0 = int64(1_767_225_600_000)
	till := store.Tills[0]
	var raw [][]byte
	for i, b := range []ledger.Body{
		&ledger.Sale{Currency: "UZS", TaxIncluded: true, Staff: "1", Lines: []ledger.Line{{SKU: "non", Name: "Non", Qty: 3, UnitPrice: 4115}},
			Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 20000}}, Change: 7700, RoundStep: 100, Rounding: -45},
		&ledger.Sale{Currency: "UZS", TaxIncluded: true, Staff: "1", Lines: []ledger.Line{{SKU: "choy", Name: "Choy", Qty: 1, UnitPrice: 25000}},
			Tenders: []ledger.Tender{{Kind: ledger.Card, Amount: 25000}}},
	} {
		ev, err := till.Next(b, day0+int64(i)*60_000, fmt.Sprint("k", i))
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, ev.Bytes())
	}
	if res, err := h.Ingest(ctx, store.ID, till.ID, &hqapi.Upload{Fence: 1, Events: raw, Certs: store.EncodedCerts()}); err != nil || len(res.Rejected) > 0 {
		t.Fatalf("ingest: %+v %v", res, err)
	}
	words, err := i18n.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	uzs, _ := i18n.LookupCurrency("UZS")

	br := newBrowser(t, path)
	p := br.page("hq-lang")
	do(t, p, "open HQ", chromedp.Navigate(srv.URL), chromedp.WaitVisible("#login-form"))
	loginHQ(t, p)
	for _, l := range []i18n.Lang{i18n.Uzbek, i18n.Russian, i18n.English} {
		do(t, p, "pick "+string(l), chromedp.SetValue("#lang", string(l)))
		js[bool](t, p, `document.querySelector('#lang').dispatchEvent(new Event('change'))`)
		until(t, p, "the nav in "+string(l), fmt.Sprintf(`document.querySelector('#nav button[data-tab=stores]').textContent === %q`, words.T(l, "hq.nav.stores")))
		do(t, p, "reload", chromedp.Reload(), chromedp.WaitVisible("#nav"))
		until(t, p, string(l)+" kept across a reload", fmt.Sprintf(`document.documentElement.lang === %q && document.querySelector('#lang').value === %q`, l, l))
		for _, tab := range []string{"stores", "reports", "stock", "catalog", "customers", "charts", "health", "transfers"} {
			do(t, p, "tab "+tab, chromedp.Click(`#nav button[data-tab=`+tab+`]`), chromedp.WaitVisible("#"+tab))
			if tab == "reports" {
				until(t, p, "the report", `document.querySelectorAll('#report-out .card').length > 0`)
			}
			if shown := js[string](t, p, `document.body.innerText`); strings.Contains(shown, "⟦") {
				t.Errorf("%s, tab %s shows a catalog key: %s", l, tab, shown[strings.Index(shown, "⟦"):min(len(shown), strings.Index(shown, "⟦")+60)])
			}
		}
		do(t, p, "reports", chromedp.Click(`#nav button[data-tab=reports]`), chromedp.WaitVisible("#report-out"))
		until(t, p, "the report", `document.querySelectorAll('#report-out .card').length > 0`)
		for key, want := range map[string]ledger.Money{"hq.report.sales_total": 12345 + 25000, "hq.report.rounding": -45} {
			if got, w := hqCard(t, p, words.T(l, key)), i18n.FormatMoney(l, uzs, want); got != w {
				t.Errorf("%s: card %s = %q, want %q (as the Go side writes it)", l, key, got, w)
			}
		}
		br.shot(p, "hq-report-"+string(l))
	}
	// The outbox page speaks the language the dashboard chose.
	do(t, p, "pick uz", chromedp.SetValue("#lang", "uz"))
	js[bool](t, p, `document.querySelector('#lang').dispatchEvent(new Event('change'))`)
	until(t, p, "the nav in uz", fmt.Sprintf(`document.querySelector('#nav button[data-tab=stores]').textContent === %q`, words.T(i18n.Uzbek, "hq.nav.stores")))
	do(t, p, "outbox page", chromedp.Navigate(srv.URL+"/outbox.html"), chromedp.WaitVisible("#stores"))
	until(t, p, "the outbox page in uz", fmt.Sprintf(`document.querySelector('h1').textContent === %q && document.querySelector('#stores').textContent === %q`,
		words.T(i18n.Uzbek, "hq.outbox.title"), words.T(i18n.Uzbek, "hq.outbox.none")))
	if errs := br.jsErrors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors: %v", errs)
	}
}
