package browsertest_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// An HQ admin imports a catalog file: a file with bad rows shows every bad
// row with its line and reason and sends nothing; a good file shows what
// it will add and change, still sends nothing, and Apply sends exactly
// that down to the store.
func TestHQCatalogImportInTheBrowser(t *testing.T) {
	path := chromiumOrSkip(t)
	ctx := context.Background()
	h, store, url := hqWithStore(t, 91)
	bread := hqapi.Product{SKU: "10002", Name: "Bread small", Barcodes: []string{"4000000100027"}, Price: 129, Currency: "EUR", TaxRate: 700, Unit: "ea"}
	if err := h.PutStoreCatalog(ctx, store.ID, hqapi.StoreCatalog{Products: []hqapi.Product{bread}, At: 1}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const header = "sku,name,barcodes,price,tax_rate,unit\n"
	bad := file("bad.csv", header+
		"10002,Bread small,4000000100027,1.39,7,ea\n"+
		"20001,Coffee,,-4.99,7,ea\n"+
		"20002,Tea,,2.49,7,litre\n")
	good := file("good.csv", header+
		"10002,Bread small,4000000100027,1.39,7,ea\n"+
		"20001,\"Coffee, ground\",96385074,4.99,19,ea\n")

	br := newBrowser(t, path)
	p := br.page("hq-import")
	do(t, p, "open HQ", chromedp.Navigate(url), chromedp.WaitVisible("#login-form"))
	loginHQ(t, p)
	do(t, p, "catalog", chromedp.Click(`#nav button[data-tab=catalog]`), chromedp.WaitVisible("#import-form"))
	until(t, p, "the store's product", `document.querySelectorAll('#catalog-table tr.clickable').length === 1`)

	do(t, p, "pick the store", chromedp.SetValue(`#import-form select[name=store]`, store.ID.String()))
	do(t, p, "choose the bad file", chromedp.SetUploadFiles(`#import-form input[name=file]`, []string{bad}))
	do(t, p, "preview it", chromedp.Click(`#import-form button[type=submit]`))
	until(t, p, "the refusal", `document.querySelector('#import-error').textContent.includes('nothing imported: 2 problems')`)
	rows := js[[]string](t, p, `[...document.querySelectorAll('#import-table tbody tr')].map(r => r.innerText.replace(/\s+/g, ' ').trim())`)
	if len(rows) != 2 || !contains(rows[0], "3 20001", "price") || !contains(rows[1], "4 20002", "unit") {
		t.Errorf("bad rows shown: %q", rows)
	}
	if !js[bool](t, p, `document.querySelector('#import-apply').disabled`) {
		t.Error("Apply is enabled for a file with bad rows")
	}
	br.shot(p, "hq-import-refused")

	do(t, p, "choose the good file", chromedp.SetUploadFiles(`#import-form input[name=file]`, []string{good}))
	do(t, p, "preview it", chromedp.Click(`#import-form button[type=submit]`))
	until(t, p, "the preview", `document.querySelector('#import-status').textContent.startsWith('Preview: 1 to add, 1 to change, 0 unchanged')`)
	rows = js[[]string](t, p, `[...document.querySelectorAll('#import-table tbody tr')].map(r => r.innerText.replace(/\s+/g, ' ').trim())`)
	if len(rows) != 2 || !contains(rows[0], "2 10002", "changed: price") || !contains(rows[1], "3 20001", "Coffee, ground", "added") {
		t.Errorf("preview rows: %q", rows)
	}
	if cs, err := h.ChangesFor(ctx, store.ID, 0, 10); err != nil || len(cs.Changes) != 0 {
		t.Fatalf("a preview sent changes: %+v %v", cs, err)
	}
	br.shot(p, "hq-import-preview")
	do(t, p, "apply", chromedp.Click(`#import-apply`))
	until(t, p, "applied", `document.querySelector('#import-status').textContent.startsWith('Imported: 1 added, 1 changed')`)
	until(t, p, "the new product listed", `[...document.querySelectorAll('#catalog-table tr.clickable')].some(r => r.innerText.includes('Coffee, ground'))`)
	cs, err := h.ChangesFor(ctx, store.ID, 0, 10)
	if err != nil || len(cs.Changes) != 2 {
		t.Fatalf("changes after apply: %+v %v", cs, err)
	}
	got := map[string]int64{}
	for _, c := range cs.Changes {
		if c.Product != nil {
			got[c.Product.SKU] = int64(c.Product.Price)
		}
	}
	if got["10002"] != 139 || got["20001"] != 499 {
		t.Errorf("prices sent down: %v", got)
	}
	if !js[bool](t, p, `document.querySelector('#import-apply').disabled`) {
		t.Error("Apply is still enabled after applying: a second click would send it again")
	}
	if errs := br.jsErrors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors: %v", errs)
	}
}

func contains(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
