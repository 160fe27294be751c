package i18n

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"golang.org/x/text/currency"
	"golang.org/x/text/feature/plural"

	"github.com/tillmesh/tillmesh/ui/i18n/internal/cldr"
)

// cldr_gen.go is what internal/gencldr writes from go.mod's
// golang.org/x/text, and every three letters give the currency (or the
// error) x/text gives, with its symbol in every language.
func TestCLDRTablesMatchXText(t *testing.T) {
	want, err := cldr.Source()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("cldr_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("cldr_gen.go differs from what golang.org/x/text gives now: run go generate ./ui/i18n/")
	}
	for _, code := range []string{"EUR", " uzs ", "jpy", "BHD", "XXX", "EU", "EURO", "QQQ", "", "€"} {
		c, err := LookupCurrency(code)
		u, xerr := currency.ParseISO(strings.ToUpper(strings.TrimSpace(code))) // as LookupCurrency did with x/text
		if (err == nil) != (xerr == nil) {
			t.Errorf("LookupCurrency(%q): error %v, x/text %v", code, err, xerr)
			continue
		}
		if err != nil {
			continue
		}
		if d, _ := currency.Standard.Rounding(u); c.Code != u.String() || c.Digits != d {
			t.Errorf("LookupCurrency(%q) = %+v, x/text %s with %d digits", code, c, u, d)
		}
	}
	units := cldr.Currencies()
	if len(units) != len(currencyDigits) || len(units) < 150 {
		t.Fatalf("%d currencies in the table, x/text has %d", len(currencyDigits), len(units))
	}
	for _, l := range cldr.Langs {
		lang := map[string]Lang{"English": English, "Russian": Russian, "Uzbek": Uzbek}[l.Const]
		for _, u := range units {
			c, err := LookupCurrency(u.String())
			if err != nil {
				t.Fatalf("%s: %v", u, err)
			}
			want := cldr.Symbol(l.Tag, u)
			if s, ok := symbols[lang][c.Code]; ok {
				want = s // CLDR's, where x/text lacks it
			}
			if got := c.Symbol(lang); got != want {
				t.Errorf("%s in %s: symbol %q, x/text %q", u, lang, got, want)
			}
		}
		g, d := cldr.Marks(l.Tag)
		if m := marksOf(lang); m.group != g || m.decimal != d {
			t.Errorf("%s: marks %+v, x/text group %q decimal %q", lang, m, g, d)
		}
	}
}

// PluralForm's rules give x/text's CLDR category for every whole number
// up to 100,000, some large ones and negatives.
func TestPluralFormMatchesXText(t *testing.T) {
	forms := map[plural.Form]string{plural.Zero: "zero", plural.One: "one", plural.Two: "two",
		plural.Few: "few", plural.Many: "many", plural.Other: "other"}
	ns := []int{-1, -21, -112, 10_000_001, 12_345_671, 1 << 40}
	for n := range 100_001 {
		ns = append(ns, n)
	}
	for _, l := range cldr.Langs {
		lang := map[string]Lang{"English": English, "Russian": Russian, "Uzbek": Uzbek}[l.Const]
		for _, n := range ns {
			a := max(n, -n)
			want := forms[plural.Cardinal.MatchPlural(l.Tag, a%10_000_000, 0, 0, 0, 0)]
			if got := PluralForm(lang, n); got != want {
				t.Fatalf("PluralForm(%s, %d) = %s, x/text %s", lang, n, got, want)
			}
		}
	}
}
