package hq

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// StockSnapshot is the cross-store stock downlink for one store: for each
// SKU the store has stocked, the other stores holding the most of it
// (hqapi.MaxStockStores), each store with the time of its last upload
// (its figures are as of then). It is cut to hqapi.MaxStockBytes by
// dropping SKUs, last by name.
func (h *HQ) StockSnapshot(store ledger.StoreID) (hqapi.StockSnapshot, error) {
	me := h.store(store)
	if me == nil {
		return hqapi.StockSnapshot{}, fmt.Errorf("%w %s", ErrUnknownStore, store)
	}
	me.mu.Lock()
	skus := make([]string, 0, len(me.agg.stock))
	for sku := range me.agg.stock {
		skus = append(skus, sku)
	}
	me.mu.Unlock()
	sort.Strings(skus)
	type fig struct {
		store int
		qty   int64
	}
	var stores []hqapi.StockStore
	per := map[string][]fig{}
	for _, s := range h.storeList() {
		if s.rec.ID == store {
			continue
		}
		s.mu.Lock()
		idx := len(stores)
		stores = append(stores, hqapi.StockStore{ID: s.rec.ID, Name: s.rec.Name, At: s.contact.At})
		for _, sku := range skus {
			if q := s.agg.stock[sku]; q > 0 {
				per[sku] = append(per[sku], fig{idx, q})
			}
		}
		s.mu.Unlock()
	}
	// Keep the stores each SKU's top figures name, numbered afresh.
	snap := hqapi.StockSnapshot{Version: hqapi.StockVersion, Made: h.cfg.Now().UnixMilli(), Stores: []hqapi.StockStore{}, SKUs: map[string][][2]int64{}}
	renum := map[int]int{}
	var kept []string
	for _, sku := range skus {
		fs := per[sku]
		if len(fs) == 0 {
			continue
		}
		sort.Slice(fs, func(i, j int) bool {
			if fs[i].qty != fs[j].qty {
				return fs[i].qty > fs[j].qty
			}
			return fs[i].store < fs[j].store
		})
		fs = fs[:min(len(fs), hqapi.MaxStockStores)]
		pairs := make([][2]int64, len(fs))
		for i, f := range fs {
			n, ok := renum[f.store]
			if !ok {
				n = len(snap.Stores)
				renum[f.store] = n
				snap.Stores = append(snap.Stores, stores[f.store])
			}
			pairs[i] = [2]int64{int64(n), f.qty}
		}
		snap.SKUs[sku] = pairs
		kept = append(kept, sku)
	}
	for {
		b, err := json.Marshal(snap)
		if err != nil {
			return snap, err
		}
		if len(b) <= hqapi.MaxStockBytes || len(kept) == 0 {
			return snap, nil
		}
		drop := max(1, len(kept)/10)
		for _, sku := range kept[len(kept)-drop:] {
			delete(snap.SKUs, sku)
		}
		kept = kept[:len(kept)-drop]
	}
}

func (h *HQ) getStock(w http.ResponseWriter, r *http.Request) {
	store, _, ok := h.authOrFail(w, r)
	if !ok {
		return
	}
	s, err := h.StockSnapshot(store)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}
