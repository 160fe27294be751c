package i18n

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
)

func TestEmbeddedCatalogs(t *testing.T) {
	c, err := Embedded()
	if err != nil {
		t.Fatalf("the built-in catalogs do not load:\n%v", err)
	}
	for _, l := range Langs {
		p, err := c.Page(l, Currency{Code: "UZS"})
		if err != nil || len(p.Messages) < len(c.Keys()) || p.Format.Decimal == "" {
			t.Fatalf("Page(%s) = %+v, %v", l, p.Format, err)
		}
	}
	if got := c.T(Russian, "input.amount_step", "text", "5", "step", "100 UZS"); got != "5: суммы здесь кратны 100 UZS" {
		t.Fatalf("T ru = %q", got)
	}
	// One copy of the messages per process: the pages, the outbox and
	// Errorf share it, and a Page handed out is the caller's own.
	if again, err := Embedded(); again != c || err != nil {
		t.Fatalf("Embedded again = %p, %v; want the same Catalog %p", again, err, c)
	}
	if c.from != nil {
		t.Fatal("the loaded Catalog still holds its key -> file map")
	}
	p, _ := c.Page(English, Currency{Code: "UZS"})
	p.Messages["input.amount_step"] = "changed"
	if got := Errorf("input.amount_step", "text", "5", "step", "100").Error(); got == "changed" {
		t.Fatal("changing a Page's messages changed the Catalog")
	}
}

func load(files map[string]string) (*Catalog, error) {
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(body)}
	}
	return Load(fsys)
}

func TestLoadRefusesWhatIsWrong(t *testing.T) {
	good := map[string]string{
		"a.en.json": `{"x.hello":"Hello {name}","x.items.one":"{n} item","x.items.other":"{n} items"}`,
		"a.ru.json": `{"x.hello":"Привет, {name}","x.items.one":"{n} товар","x.items.few":"{n} товара","x.items.many":"{n} товаров","x.items.other":"{n} товара"}`,
		"a.uz.json": `{"x.hello":"Salom, {name}","x.items.one":"{n} ta","x.items.other":"{n} ta"}`,
	}
	c, err := load(good)
	if err != nil {
		t.Fatalf("good catalogs: %v", err)
	}
	for n, want := range map[int]string{1: "1 товар", 3: "3 товара", 5: "5 товаров", 21: "21 товар", 11: "11 товаров"} {
		if got := c.TN(Russian, "x.items", n); got != want {
			t.Errorf("TN(ru, %d) = %q, want %q", n, got, want)
		}
	}
	if got := c.TN(English, "x.items", 1); got != "1 item" {
		t.Errorf("TN(en, 1) = %q", got)
	}
	for name, tc := range map[string]struct{ file, body, want string }{
		"missing key":        {"a.uz.json", `{"x.items.one":"{n} ta","x.items.other":"{n} ta"}`, `key "x.hello" missing`},
		"broken placeholder": {"a.ru.json", strings.Replace(good["a.ru.json"], "{name}", "{name", 1), "broken placeholder"},
		"other placeholder":  {"a.uz.json", strings.Replace(good["a.uz.json"], "{name}", "{nom}", 1), "has placeholders [nom], English has [name]"},
		"extra key":          {"a.uz.json", strings.Replace(good["a.uz.json"], "{", `{"x.bye":"Xayr",`, 1), `key "x.bye" is not in English`},
		"missing plural":     {"a.ru.json", strings.Replace(good["a.ru.json"], `"x.items.few":"{n} товара",`, "", 1), `plural form few of x.items`},
		"foreign plural":     {"a.uz.json", strings.Replace(good["a.uz.json"], "{", `{"x.items.few":"{n} ta",`, 1), `no plural form "few"`},
		"not json":           {"a.ru.json", `{"x.hello":`, "not a JSON object of strings"},
		"bad key":            {"a.en.json", strings.Replace(good["a.en.json"], "x.hello", "X Hello", 1), "lower-case words"},
		"unknown language":   {"a.fr.json", `{}`, `unknown language "fr"`},
		"empty message":      {"a.uz.json", strings.Replace(good["a.uz.json"], "Salom, {name}", " ", 1), "is empty"},
	} {
		t.Run(name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range good {
				files[k] = v
			}
			files[tc.file] = tc.body
			_, err := load(files)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestParseLang(t *testing.T) {
	for in, want := range map[string]Lang{"en": English, "RU": Russian, "uz-Latn": Uzbek, "en_GB": English, " uz ": Uzbek} {
		if got, err := ParseLang(in); err != nil || got != want {
			t.Errorf("ParseLang(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"fr", "", "uz-Cyrl", "english"} {
		_, err := ParseLang(in)
		var e *Error
		if !errors.As(err, &e) || e.Key != "input.language" || !strings.Contains(err.Error(), "want en, ru or uz") {
			t.Errorf("ParseLang(%q) = %v, want the input.language error", in, err)
		}
	}
}

func mustCur(t *testing.T, code string) Currency {
	t.Helper()
	c, err := LookupCurrency(code)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFormatMoney(t *testing.T) {
	eur, uzs := mustCur(t, "EUR"), mustCur(t, "uzs")
	if eur.Digits != 2 || uzs.Digits != 0 || uzs.Unit() != 1 || eur.Unit() != 100 {
		t.Fatalf("digits: EUR %d, UZS %d", eur.Digits, uzs.Digits)
	}
	for _, tc := range []struct {
		l    Lang
		c    Currency
		m    ledger.Money
		want string
	}{
		{English, eur, 250, "€2.50"},
		{English, eur, -123456, "-€1,234.56"},
		{English, eur, 5, "€0.05"},
		{Russian, eur, 123456, "1\u00a0234,56\u00a0€"},
		{Uzbek, uzs, 1234000, "1\u00a0234\u00a0000\u00a0soʻm"},
		{English, uzs, 12000, "UZS\u00a012,000"},
		{Russian, uzs, 0, "0\u00a0сум"},
	} {
		if got := FormatMoney(tc.l, tc.c, tc.m); got != tc.want {
			t.Errorf("FormatMoney(%s, %s, %d) = %q, want %q", tc.l, tc.c.Code, tc.m, got, tc.want)
		}
	}
	if _, err := LookupCurrency("XXQ"); err == nil || !strings.Contains(err.Error(), "unknown currency XXQ") {
		t.Errorf("LookupCurrency(XXQ) = %v", err)
	}
}

func TestParseMoney(t *testing.T) {
	eur, uzs := mustCur(t, "EUR"), mustCur(t, "UZS")
	for _, tc := range []struct {
		l        Lang
		c        Currency
		smallest ledger.Money
		in       string
		want     ledger.Money
		err      string
	}{
		{English, eur, 0, "2.50", 250, ""},
		{English, eur, 0, "1,234.5", 123450, ""},
		{English, eur, 0, " 7 ", 700, ""},
		{English, eur, 0, ".5", 50, ""},
		{Russian, eur, 0, "1 234,56", 123456, ""},
		{Russian, eur, 0, "1\u00a0234,56", 123456, ""},
		{Uzbek, uzs, 100, "12 000", 12000, ""},
		{Russian, eur, 0, "12.50", 0, `the decimal mark here is ","`},
		{English, eur, 0, "12,50.1", 0, `the decimal mark here is "."`},
		{English, eur, 0, "2.505", 0, "EUR has 2 decimals at most"},
		{Uzbek, uzs, 0, "12000,5", 0, "UZS has 0 decimals at most"},
		{Uzbek, uzs, 100, "12050", 0, "steps of 100"},
		{English, eur, 0, "-3", 0, "cannot be negative"},
		{English, eur, 0, "", 0, "enter an amount"},
		{English, eur, 0, "12a", 0, "not an amount"},
		{English, eur, 0, "3.", 0, "not an amount"},
		{English, eur, 0, "99999999999999999", 0, "too large"},
	} {
		got, err := ParseMoney(tc.l, tc.c, tc.smallest, tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseMoney(%s, %q) = %d, %v; want error %q", tc.l, tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseMoney(%s, %q) = %d, %v; want %d", tc.l, tc.in, got, err, tc.want)
		}
	}
}

func TestFormatTime(t *testing.T) {
	tz, err := time.LoadLocation("Asia/Tashkent")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	at := time.Date(2026, 12, 6, 20, 5, 0, 0, time.UTC)
	if got := FormatTime(Uzbek, at, tz); got != "07.12.2026 01:05" {
		t.Errorf("FormatTime(uz) = %q", got)
	}
	if got := FormatTime(English, at, time.UTC); got != "6 Dec 2026 20:05" {
		t.Errorf("FormatTime(en) = %q", got)
	}
}

// FuzzParseMoney: whatever is typed, ParseMoney answers an amount or an
// error, and an amount it reads formats back to text it reads the same.
func FuzzParseMoney(f *testing.F) {
	for _, s := range []string{"2.50", "1 234,56", "12 000", "-3", "1,2,3", "٣", "1e5"} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, s string, which uint8) {
		l := Langs[int(which)%len(Langs)]
		c := Currency{Code: "EUR", Digits: 2}
		if which&4 != 0 {
			c = Currency{Code: "UZS", Digits: 0}
		}
		m, err := ParseMoney(l, c, 0, s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("ParseMoney(%q): %v is not an *Error", s, err)
			}
			return
		}
		if m < 0 {
			t.Fatalf("ParseMoney(%q) = %d", s, m)
		}
		back, err := ParseMoney(l, c, 0, FormatNumber(l, int64(m), c.Digits))
		if err != nil || back != m {
			t.Fatalf("ParseMoney(FormatNumber(%d)) = %d, %v", m, back, err)
		}
	})
}

func TestHandler(t *testing.T) {
	c, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	h := c.Handler(func(*http.Request) Locale {
		return Locale{Currency: Currency{Code: "UZS", Digits: 0}, TimeZone: "Asia/Tashkent"}
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/i18n/uz.json", nil))
	var p Page
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != 200 {
		t.Fatalf("GET /i18n/uz.json: %d %s", rec.Code, rec.Body)
	}
	if p.Lang != Uzbek || p.Format.Symbol != "soʻm" || p.Format.Prefix || p.Messages["input.amount_empty"] != "summani kiriting" || p.Format.TimeZone != "Asia/Tashkent" {
		t.Fatalf("page = %+v", p.Format)
	}
	for _, path := range []string{"/i18n/fr.json", "/i18n/uz", "/i18n/../x.json"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "want en, ru or uz") {
			t.Errorf("GET %s: %d %q", path, rec.Code, rec.Body)
		}
	}
}
