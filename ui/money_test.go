package ui_test

import (
	"net/http"
	"testing"
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
