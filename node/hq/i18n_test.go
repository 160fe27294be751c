package hq_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

var (
	// htmlKey is a key in a data-i18n attribute; jsKey a quoted hq key
	// anywhere in a script (calls and the maps of keys they look in).
	htmlKey = regexp.MustCompile(`data-i18n(?:-[a-z-]+)?="([^"]*)"`)
	jsKey   = regexp.MustCompile(`I18N\.tn?\(\s*['"]([^'"]+)['"]|['"](hq\.[a-z0-9_.]+)['"]`)
	token   = regexp.MustCompile(`<[^>]+>|[^<]+`)
)

// Every key the HQ pages use is in the catalog, and no page shows a word
// that does not come from it.
func TestHQPagesUseOnlyCatalogKeys(t *testing.T) {
	words, err := i18n.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("web/*")
	if err != nil || len(files) < 5 {
		t.Fatalf("web files: %v %v", files, err)
	}
	used := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		var keys []string
		switch filepath.Ext(f) {
		case ".html":
			for _, m := range htmlKey.FindAllStringSubmatch(src, -1) {
				keys = append(keys, m[1])
			}
			checkNoBareText(t, f, src)
		case ".js":
			for _, m := range jsKey.FindAllStringSubmatch(src, -1) {
				keys = append(keys, m[1]+m[2])
			}
		}
		for _, k := range keys {
			used++
			if !words.Has(k) {
				t.Errorf("%s uses key %q, which no catalog has (add it to ui/i18n/catalog/hq.*.json)", f, k)
			}
		}
	}
	if used < 150 {
		t.Fatalf("found %d keys in the pages: the scan is broken", used)
	}
}

// checkNoBareText fails for text a page shows that is not in an element
// with a data-i18n attribute (or a lang attribute: a language's own name
// in the picker).
func checkNoBareText(t *testing.T, name, src string) {
	t.Helper()
	last, inScript := "", false
	for _, tok := range token.FindAllString(src, -1) {
		if strings.HasPrefix(tok, "<") {
			last = tok
			switch {
			case strings.HasPrefix(tok, "<script"), strings.HasPrefix(tok, "<style"):
				inScript = true
			case strings.HasPrefix(tok, "</script"), strings.HasPrefix(tok, "</style"):
				inScript = false
			}
			continue
		}
		text := strings.TrimSpace(tok)
		if inScript || !strings.ContainsAny(strings.ToLower(text), "abcdefghijklmnopqrstuvwxyz") || strings.HasPrefix(last, "<!") {
			continue
		}
		if strings.HasPrefix(last, "</") || (!strings.Contains(last, "data-i18n=") && !strings.Contains(last, " lang=")) {
			t.Errorf("%s shows %q outside a data-i18n element (after %s)", name, text, last)
		}
	}
}

// HQ serves each language's catalog with the chain's currency, the
// pages' script, and refuses an unknown language.
func TestHQServesLanguages(t *testing.T) {
	cfg := hq.DefaultConfig()
	cfg.Storage, cfg.Logger, cfg.Currency = backends[0].open(t, backends[0].place(t)), quiet(), "UZS"
	h, err := hq.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	get := func(path string) (int, []byte) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, body := get("/i18n/uz.json")
	var p i18n.Page
	if code != 200 || json.Unmarshal(body, &p) != nil || p.Format.Currency != "UZS" || p.Format.Digits != 0 ||
		p.Messages["hq.nav.stores"] != "Doʻkonlar" {
		t.Fatalf("uz catalog: %d %+v %q", code, p.Format, p.Messages["hq.nav.stores"])
	}
	if code, body := get("/assets/i18n.js"); code != 200 || !strings.Contains(string(body), "window.I18N") {
		t.Fatalf("i18n.js: %d", code)
	}
	if code, body := get("/i18n/xx.json"); code != 404 || !strings.Contains(string(body), "unknown language xx") {
		t.Fatalf("unknown language: %d %s", code, body)
	}

	// The report CSV writes so'm with no decimals, the cash rounding and
	// the currency on every row.
	store := hqtest.NewStore(41, 1)
	if err := h.RegisterStore(t.Context(), store.ID, "Chorsu", store.CAPublic()); err != nil {
		t.Fatal(err)
	}
	sale := &ledger.Sale{Currency: "UZS", TaxIncluded: true, Staff: "1", Lines: []ledger.Line{{SKU: "non", Qty: 3, UnitPrice: 4115}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 20000}}, Change: 7700, RoundStep: 100, Rounding: -45}
	ev, err := store.Tills[0].Next(sale, 1_767_225_600_000, "k")
	if err != nil {
		t.Fatal(err)
	}
	if res, err := h.Ingest(t.Context(), store.ID, store.Tills[0].ID, &hqapi.Upload{Fence: 1, Events: [][]byte{ev.Bytes()}, Certs: store.EncodedCerts()}); err != nil || len(res.Rejected) > 0 {
		t.Fatalf("ingest: %+v %v", res, err)
	}
	if err := h.SetPassword(t.Context(), "boss", "correct horse"); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	login, _ := json.Marshal(map[string]string{"user": "boss", "password": "correct horse"})
	resp, err := hc.Post(srv.URL+"/hq/api/login", "application/json", bytes.NewReader(login))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = hc.Get(srv.URL + "/hq/api/report.csv?store=all")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	resp.Body.Close()
	if err != nil || len(rows) < 2 {
		t.Fatalf("report CSV: %v %v", rows, err)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	total := rows[1]
	if total[col["sales_total"]] != "12345" || total[col["cash"]] != "12300" || total[col["rounding"]] != "-45" || total[col["currency"]] != "UZS" {
		t.Fatalf("CSV total row %v (header %v)", total, rows[0])
	}

	cfg.Currency = "EURO"
	if _, err := hq.New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "unknown currency EURO") {
		t.Fatalf("a bad currency: %v", err)
	}
}

// A so'm chain whose smallest amount in use is 100: HQ refuses a price
// off it, takes one on it, and leaves prices per kg alone.
func TestHQRefusesPriceBelowSmallestAmount(t *testing.T) {
	cfg := hq.DefaultConfig()
	cfg.Storage, cfg.Logger, cfg.Currency, cfg.SmallestAmount = backends[0].open(t, backends[0].place(t)), quiet(), "UZS", 100
	h, err := hq.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := hqapi.Product{SKU: "non", Name: "Non", Price: 4050, Currency: "UZS", Unit: ledger.Each}
	if _, err := h.EditProduct(t.Context(), nil, p, nil, "boss"); !errors.Is(err, hq.ErrInvalid) || !strings.Contains(err.Error(), "price of non UZS\u00a04,050: not a multiple of UZS\u00a0100") {
		t.Fatalf("4,050 so'm in steps of 100: %v", err)
	}
	p.Price = 4000
	if _, err := h.EditProduct(t.Context(), nil, p, nil, "boss"); err != nil {
		t.Fatal(err)
	}
	olma := hqapi.Product{SKU: "olma", Name: "Olma", Price: 18050, Currency: "UZS", Unit: ledger.Kilogram}
	if _, err := h.EditProduct(t.Context(), nil, olma, nil, "boss"); err != nil {
		t.Fatalf("a price per kg: %v", err)
	}
	cfg.SmallestAmount = -1
	if _, err := hq.New(context.Background(), cfg); err == nil {
		t.Fatal("a negative smallest amount was accepted")
	}
}
