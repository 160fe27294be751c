package ui_test

import (
	"net/http"
	"testing"

	"github.com/tillmesh/tillmesh/ui"
)

// The smallest amount in use: a catalog price or a price override that
// is not a multiple of it is refused; the settings round-trip.
func TestSmallestAmountAndCashRounding(t *testing.T) {
	e := serve(t)
	m := e.login(t, "1", "1234")
	m.fails(http.StatusBadRequest, "cash rounding step", "PUT", "/api/settings", `{"cash_rounding":-5}`)
	set := m.must(200, "PUT", "/api/settings", `{"smallest_amount":100,"cash_rounding":1000}`)
	if num(set["smallest_amount"]) != 100 || num(set["cash_rounding"]) != 1000 {
		t.Fatalf("settings: %v", set)
	}
	m.fails(http.StatusBadRequest, "price of 9001 €123.45: not a multiple of €1.00, the smallest amount in use", "POST", "/api/products", `{"sku":"9001","name":"Non","price":12345}`)
	m.must(201, "POST", "/api/products", `{"sku":"9001","name":"Non","price":12300}`)
	m.must(201, "POST", "/api/products", `{"sku":"9002","name":"Olma","price":12345,"unit":"kg"}`)
	m.must(200, "POST", "/api/cart/lines", `{"sku":"9001","qty":1}`)
	m.fails(http.StatusBadRequest, "smallest amount in use", "PUT", "/api/cart/lines/0", `{"override":{"price":12050,"reason":"damaged"}}`)
}

// The refund, cash-out and offline limits default to about the same
// worth in every currency: €50.00 (5,000 cents) in euros, 500,000 so'm
// (not 5,000 so'm) in so'm; a limit the store set is kept as set.
func TestDefaultLimitsFollowTheCurrency(t *testing.T) {
	for cur, want := range map[string]int64{"EUR": 5000, "UZS": 500_000, "JPY": 5_000, "CHF": 5000, "KWD": 50_000} {
		if got := int64(ui.DefaultLimit(cur)); got != want {
			t.Errorf("DefaultLimit(%s) = %d, want %d", cur, got, want)
		}
	}
	e := serve(t)
	m := e.login(t, "1", "1234")
	set := m.must(200, "GET", "/api/settings", "")
	for _, k := range []string{"refund_limit", "cash_out_limit", "offline_limit"} {
		if num(set[k]) != 5000 {
			t.Errorf("EUR store: %s %v, want 5000", k, set[k])
		}
	}
	if err := e.till.PutSetting(t.Context(), ui.SettingCurrency, "UZS"); err != nil {
		t.Fatal(err)
	}
	m.must(200, "PUT", "/api/settings", `{"cash_out_limit":20000}`) // and the settings read afresh
	set = m.must(200, "GET", "/api/settings", "")
	for k, want := range map[string]int64{"refund_limit": 500_000, "offline_limit": 500_000, "cash_out_limit": 20000} {
		if num(set[k]) != want {
			t.Errorf("UZS store: %s %v, want %v", k, set[k], want)
		}
	}
}
