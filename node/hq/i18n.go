package hq

import (
	"fmt"
	"net/http"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// The dashboard's words and amounts (issue 20): the pages take every
// string from the hq domain of the message catalogs (ui/i18n/catalog/
// hq.<lang>.json) through i18n.js, and write amounts as the user's
// language writes the chain's currency (Config.Currency). HQ serves
// GET /i18n/<lang>.json (the language's merged catalog and number
// format) and GET /assets/i18n.js. The language is each HQ user's
// choice, kept in the browser's hq_lang cookie by the pages.

// DefaultCurrency is the chain's currency when Config.Currency is empty.
const DefaultCurrency = "EUR"

// pageWords loads the built-in catalogs and the chain's currency.
func pageWords(cfg Config) (*i18n.Catalog, i18n.Currency, error) {
	words, err := i18n.Embedded()
	if err != nil {
		return nil, i18n.Currency{}, fmt.Errorf("message catalogs: %w", err)
	}
	code := cfg.Currency
	if code == "" {
		code = DefaultCurrency
	}
	cur, err := i18n.LookupCurrency(code)
	if err != nil {
		return nil, i18n.Currency{}, fmt.Errorf("hq: currency: %w", err)
	}
	if cfg.SmallestAmount < 0 || cfg.SmallestAmount > basket.MaxSmallest {
		return nil, i18n.Currency{}, fmt.Errorf("hq: smallest amount %d: want 0..%d minor units", cfg.SmallestAmount, basket.MaxSmallest)
	}
	return words, cur, nil
}

// checkSmallest refuses a price in the chain's currency that is not a
// multiple of Config.SmallestAmount (a price per kg is not paid as it
// is, so it may be anything).
func (h *HQ) checkSmallest(p hqapi.Product) error {
	if p.Currency != h.currency.Code || p.Unit == ledger.Kilogram {
		return nil
	}
	format := func(m ledger.Money) string { return i18n.FormatMoney(i18n.English, h.currency, m) }
	if err := basket.CheckSmallest("price of "+p.SKU, p.Price, h.cfg.SmallestAmount, format); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := basket.CheckSmallest("cost price of "+p.SKU, p.Cost, h.cfg.SmallestAmount, format); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

// registerI18n serves the pages' catalogs and script.
func (h *HQ) registerI18n(mux *http.ServeMux) {
	mux.Handle("GET /i18n/{file}", h.secureHeaders(h.words.Handler(func(*http.Request) i18n.Locale { return i18n.Locale{Currency: h.currency} })))
	mux.Handle("GET /assets/i18n.js", h.secureHeaders(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(i18n.Script())
	})))
}
