package hq

import (
	"context"
	"errors"
	"math"
	"net/http"
	"sort"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// StoreStockHealth is one store's stock value and what runs low, against
// the catalog its relay last reported (prices and reorder points are the
// store's own). Cost prices are not in the catalog yet, so the value is
// at retail price, tax as the price has it.
type StoreStockHealth struct {
	Store     ledger.StoreID `json:"store"`
	Name      string         `json:"name"`
	Value     ledger.Money   `json:"value"` // sum of positive stock x price
	Currency  string         `json:"currency,omitempty"`
	Low       []LowStock     `json:"low"`                  // at or below the reorder point
	Negative  int            `json:"negative"`             // SKUs below zero (sold before they were received)
	NoCatalog bool           `json:"no_catalog,omitempty"` // the relay has sent no catalog yet
}

// LowStock is a SKU at or below its reorder point.
type LowStock struct {
	SKU     string `json:"sku"`
	Name    string `json:"name"`
	Qty     int64  `json:"qty"`
	Reorder int64  `json:"reorder"`
	Unit    string `json:"unit,omitempty"`
}

// StockHealth reports every store's (or one store's) stock value and low
// stock.
func (h *HQ) StockHealth(ctx context.Context, store *ledger.StoreID) ([]StoreStockHealth, error) {
	var out []StoreStockHealth
	var cats map[ledger.StoreID]hqapi.StoreCatalog // every store's in one read, kept while unchanged (views.go)
	if store == nil || h.exclusive() {
		var err error
		if cats, err = h.storeCatalogs(ctx); err != nil {
			return nil, err
		}
	}
	for _, s := range h.storeList() {
		if store != nil && *store != s.rec.ID {
			continue
		}
		s.viewMu.RLock()
		stock := make(map[string]int64, len(s.pub.stock))
		for sku, q := range s.pub.stock {
			stock[sku] = q
		}
		sh := StoreStockHealth{Store: s.rec.ID, Name: s.rec.Name, Low: []LowStock{}}
		s.viewMu.RUnlock()
		var cat hqapi.StoreCatalog
		var err error
		if cats != nil {
			var ok bool
			if cat, ok = cats[s.rec.ID]; !ok {
				err = ErrNotFound
			}
		} else {
			cat, err = h.st.StoreCatalog(ctx, s.rec.ID)
		}
		switch {
		case errors.Is(err, ErrNotFound):
			sh.NoCatalog = true
		case err != nil:
			return nil, err
		}
		for _, p := range cat.Products {
			q := stock[p.SKU]
			if q > 0 && p.Price > 0 && q <= math.MaxInt64/int64(p.Price)/4 { // no overflow, even summed
				v := ledger.Money(q) * p.Price
				if p.Unit == ledger.Kilogram {
					v = ledger.Money(q) * p.Price / 1000
				}
				sh.Value += v
				sh.Currency = p.Currency
			}
			if p.Reorder > 0 && q <= p.Reorder {
				sh.Low = append(sh.Low, LowStock{SKU: p.SKU, Name: p.Name, Qty: q, Reorder: p.Reorder, Unit: string(p.Unit)})
			}
		}
		for _, q := range stock {
			if q < 0 {
				sh.Negative++
			}
		}
		sort.Slice(sh.Low, func(i, j int) bool { return sh.Low[i].SKU < sh.Low[j].SKU })
		out = append(out, sh)
	}
	return out, nil
}

func (h *HQ) apiStockHealth(w http.ResponseWriter, r *http.Request, _ *session) {
	store, err := storeParam(r.URL.Query().Get("store"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	out, err := h.StockHealth(r.Context(), store)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if out == nil {
		out = []StoreStockHealth{}
	}
	writeJSON(w, http.StatusOK, out)
}
