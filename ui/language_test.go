package ui_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ui"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

func TestStoreLanguageSetting(t *testing.T) {
	f := newFakeTill()
	e := serveFake(t, f)
	if got := e.client(t).must(200, "GET", "/api/language", "")["language"]; got != "en" {
		t.Fatalf("store language without a setting = %v, want en", got)
	}
	m := e.login(t, "1", "1234")
	// An unknown language is refused with the reason and its catalog
	// key, and nothing is stored.
	out := m.fails(400, "unknown language fr", "PUT", "/api/settings", `{"language":"fr","discount_limit_bp":500}`)
	if out["code"] != "input.language" {
		t.Fatalf("refused language: code %v, want input.language", out["code"])
	}
	if v, ok, _ := f.Setting(t.Context(), "language"); ok {
		t.Fatalf("a refused language was stored: %q", v)
	}
	if v, ok, _ := f.Setting(t.Context(), "discount_limit_bp"); ok {
		t.Fatalf("a refused change stored another setting: %q", v)
	}
	// A currency the pages cannot write (no CLDR digits) is refused too.
	if out := m.fails(400, "unknown currency XYZ", "PUT", "/api/settings", `{"currency":"XYZ"}`); out["code"] != "input.currency" {
		t.Fatalf("refused currency: code %v", out["code"])
	}
	if got := m.must(200, "PUT", "/api/settings", `{"language":"uz-Latn"}`)["language"]; got != "uz" {
		t.Fatalf("settings after choosing uz-Latn: language %v", got)
	}
	if got := e.client(t).must(200, "GET", "/api/language", "")["language"]; got != "uz" {
		t.Fatalf("store language = %v, want uz", got)
	}
}

func TestStaffMemberSpeaksOwnLanguage(t *testing.T) {
	f := newFakeTill()
	e := serveFake(t, f)
	m := e.login(t, "1", "1234")
	m.must(200, "PUT", "/api/settings", `{"language":"uz"}`)
	carl := e.login(t, "2", "0000")
	lang := func(c *client) map[string]any {
		return c.must(200, "GET", "/api/session", "")["language"].(map[string]any)
	}
	if l := lang(carl); l["language"] != "uz" || l["own"] != nil {
		t.Fatalf("Carl before choosing: %v, want the store's uz", l)
	}
	carl.must(200, "PUT", "/api/session/language", `{"language":"ru"}`)
	if l := lang(carl); l["language"] != "ru" || l["own"] != "ru" || l["store"] != "uz" {
		t.Fatalf("Carl after choosing ru: %v", l)
	}
	if l := lang(m); l["language"] != "uz" {
		t.Fatalf("Maria speaks %v, want the store's uz: Carl's choice is his", l["language"])
	}
	// Carl's choice follows him: a new session, on this or another
	// screen, speaks it (it is kept in the store's settings).
	if l := e.login(t, "2", "0000").must(200, "GET", "/api/session", "")["language"].(map[string]any); l["language"] != "ru" {
		t.Fatalf("Carl's next session speaks %v", l["language"])
	}
	before, _, _ := f.Setting(t.Context(), "language.2")
	out := carl.fails(400, "unknown language xx", "PUT", "/api/session/language", `{"language":"xx"}`)
	if out["code"] != "input.language" {
		t.Fatalf("refused own language: code %v", out["code"])
	}
	if after, _, _ := f.Setting(t.Context(), "language.2"); after != before {
		t.Fatalf("a refused language changed the stored one: %q -> %q", before, after)
	}
	carl.must(200, "PUT", "/api/session/language", `{"language":""}`)
	if l := lang(carl); l["language"] != "uz" || l["own"] != nil {
		t.Fatalf("Carl back on the store's language: %v", l)
	}
}

// TestErrorsCarryCatalogKeys: the errors a cashier meets in a normal day
// answer a catalog key and its arguments beside the English reason, and
// every language has words for them.
func TestErrorsCarryCatalogKeys(t *testing.T) {
	cat, err := i18n.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	e := serve(t)
	anon := e.client(t)
	carl := e.login(t, "2", "0000")
	for _, tc := range []struct {
		name       string
		c          *client
		status     int
		method     string
		path, body string
		code       string
		args       map[string]any
	}{
		{"wrong PIN", anon, 401, "POST", "/api/login", `{"staff":"2","pin":"9999"}`, "till.error.bad_pin", nil},
		{"unknown barcode", carl, 404, "POST", "/api/cart/lines", `{"barcode":"4000000999997"}`, "till.error.unknown_barcode", map[string]any{"code": "4000000999997"}},
		{"wrong check digit", carl, 400, "POST", "/api/cart/lines", `{"barcode":"4000000999999"}`, "till.error.check_digit", nil},
		{"no shift", carl, 400, "POST", "/api/cash", `{"idempotency_key":"c-1","direction":"in","amount":100,"reason":"change"}`, "till.error.no_shift", nil},
		{"approval", carl, 403, "POST", "/api/nosale", `{"idempotency_key":"ns-1"}`, "till.error.approval", map[string]any{"least": "supervisor"}},
		{"permission", carl, 403, "GET", "/api/reports", "", "till.error.permission", map[string]any{"name": "Carl", "role": "cashier", "least": "supervisor", "perm": "reports"}},
		{"not logged in", anon, 401, "GET", "/api/cart", "", "till.error.not_logged_in", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := tc.c.do(tc.method, tc.path, tc.body)
			if code != tc.status || out["code"] != tc.code || out["error"] == "" {
				t.Fatalf("%s %s: %d %v, want %d with code %s and the English reason", tc.method, tc.path, code, out, tc.status, tc.code)
			}
			got, _ := out["args"].(map[string]any)
			for k, v := range tc.args {
				if got[k] != v {
					t.Errorf("arg %s = %v, want %v (args %v)", k, got[k], v, got)
				}
			}
			en := cat.T(i18n.English, tc.code)
			for _, l := range []i18n.Lang{i18n.Russian, i18n.Uzbek} {
				if s := cat.T(l, tc.code); s == en || s == tc.code {
					t.Errorf("%s in %s is %q: not translated", tc.code, l, s)
				}
			}
		})
	}
	// An error without a key still answers its English reason only.
	_, out := carl.do("PUT", "/api/cart/lines/99", `{"qty":1}`)
	if out["error"] == nil {
		t.Fatalf("no reason: %v", out)
	}
}

func TestLanguageAssets(t *testing.T) {
	f := newFakeTill()
	f.settings["currency"] = "UZS"
	f.settings["language"] = "uz"
	e := serveFake(t, f)
	c := e.client(t)
	resp, body := c.raw("GET", "/assets/i18n.js", "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") ||
		resp.Header.Get("Content-Security-Policy") == "" || !strings.Contains(string(body), "window.I18N") {
		t.Fatalf("i18n.js: %d %q csp %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Security-Policy"))
	}
	resp, body = c.raw("GET", "/i18n/uz.json", "")
	var p i18n.Page
	if resp.StatusCode != 200 || json.Unmarshal(body, &p) != nil {
		t.Fatalf("uz.json: %d %.200s", resp.StatusCode, body)
	}
	if p.Format.Currency != "UZS" || p.Format.Digits != 0 || p.Messages["till.tender.cash"] != "Naqd" {
		t.Fatalf("uz.json for a store in UZS: format %+v, cash %q", p.Format, p.Messages["till.tender.cash"])
	}
	if got := i18n.FormatMoney(i18n.Uzbek, i18n.Currency{Code: "UZS"}, 12000); !strings.Contains(got, "12") || strings.ContainsAny(got, ".,") && strings.Contains(got, "00,00") {
		t.Fatalf("FormatMoney uz UZS 12000 = %q", got)
	}
	if resp, _ := c.raw("GET", "/i18n/fr.json", ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("fr.json: %d, want 404", resp.StatusCode)
	}
	// The pages load the words before their own scripts.
	for _, page := range []string{"/", "/transfers"} {
		_, b := c.raw("GET", page, "")
		i, j := strings.Index(string(b), "/assets/i18n.js"), strings.Index(string(b), "/assets/app.js")
		if page == "/transfers" {
			j = strings.Index(string(b), "/assets/transfers.js")
		}
		if i < 0 || j < 0 || i > j {
			t.Errorf("%s loads i18n.js at %d, its script at %d", page, i, j)
		}
	}
}

// TestSerialScanErrorCarriesCatalogKey: a serial scanner's unknown code
// reaches the pages with its catalog key, as a wedge scan's error does.
func TestSerialScanErrorCarriesCatalogKey(t *testing.T) {
	e := serve(t)
	c := e.login(t, "2", "0000")
	sent := false
	readEvents(t, c, func(event, data string) bool {
		if event == "hello" && !sent {
			sent = true // subscribed: the stream is open
			if err := e.api.Scanned(t.Context(), "4000000999997", "scanner"); err == nil {
				t.Fatal("an unknown code scanned without error")
			}
			return false
		}
		if event != "scan" {
			return false
		}
		var ev ui.ScanEvent
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.ErrorCode != "till.error.unknown_barcode" || ev.ErrorArgs["code"] != "4000000999997" || ev.Error == "" {
			t.Fatalf("scan event %+v", ev)
		}
		return true
	})
}

// TestStoreTimeZoneSetting: the store's time zone is an IANA name (or
// blank for the till's own); anything else is refused with nothing
// stored, and the pages get the zone with their words, so dates and
// times on the screens read as on the receipts.
func TestStoreTimeZoneSetting(t *testing.T) {
	f := newFakeTill()
	e := serveFake(t, f)
	m := e.login(t, "1", "1234")
	m.fails(400, `time zone "Mars/Olympus": not an IANA time zone name`, "PUT", "/api/settings", `{"time_zone":"Mars/Olympus","discount_limit_bp":500}`)
	if v, ok, _ := f.Setting(t.Context(), "time_zone"); ok {
		t.Fatalf("a refused time zone was stored: %q", v)
	}
	if v, ok, _ := f.Setting(t.Context(), "discount_limit_bp"); ok {
		t.Fatalf("a refused change stored another setting: %q", v)
	}
	if got := m.must(200, "PUT", "/api/settings", `{"time_zone":"Asia/Tashkent"}`)["time_zone"]; got != "Asia/Tashkent" {
		t.Fatalf("settings after choosing Asia/Tashkent: time_zone %v", got)
	}
	page := e.client(t).must(200, "GET", "/i18n/uz.json", "")
	if got := page["format"].(map[string]any)["time_zone"]; got != "Asia/Tashkent" {
		t.Fatalf("the pages' format: time_zone %v, want Asia/Tashkent", got)
	}
	if got := m.must(200, "PUT", "/api/settings", `{"time_zone":""}`)["time_zone"]; got != "" {
		t.Fatalf("settings after clearing the zone: time_zone %v", got)
	}
	if _, ok := e.client(t).must(200, "GET", "/i18n/uz.json", "")["format"].(map[string]any)["time_zone"]; ok {
		t.Fatal("the pages still get a zone after it was cleared")
	}
}
