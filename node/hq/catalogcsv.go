package hq

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/crdt/catalogcsv"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// catalogOf returns the products HQ has sent down to a scope (one store,
// or every store with nil), as CRDT products.
func (h *HQ) catalogOf(ctx context.Context, store *ledger.StoreID) ([]crdt.Product, error) {
	cat, err := h.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	var out []crdt.Product
	for _, e := range cat.Products {
		if (e.Store == nil) != (store == nil) || (store != nil && *e.Store != *store) {
			continue
		}
		p := e.Product
		p.Updated = e.At
		out = append(out, p)
	}
	return out, nil
}

// ImportCatalog reads a catalog CSV file (package catalogcsv) for a store
// (or every store, with nil) and plans it against what HQ has sent down;
// with apply it sends every added or changed product down as a catalog
// change. Opening stock is received at a till, so HQ ignores it. A file
// with any bad row returns a *catalogcsv.Error and changes nothing.
func (h *HQ) ImportCatalog(ctx context.Context, store *ledger.StoreID, r io.Reader, currency string, apply bool, by string) (*catalogcsv.Plan, error) {
	if store != nil && h.store(*store) == nil {
		return nil, ErrUnknownStore
	}
	rows, perr := catalogcsv.Parse(r, catalogcsv.Options{Currency: currency, Updated: h.cfg.Now().UnixMilli()})
	var parseErr *catalogcsv.Error
	if perr != nil && (!errors.As(perr, &parseErr) || len(rows) == 0) {
		return nil, perr
	}
	current, err := h.catalogOf(ctx, store)
	if err != nil {
		return nil, err
	}
	plan, err := catalogcsv.MakePlan(rows, current)
	var planErr *catalogcsv.Error
	if err != nil && !errors.As(err, &planErr) {
		return nil, err
	}
	if all := catalogcsv.Merge(parseErr, planErr); all != nil {
		return nil, all
	}
	if !apply {
		return plan, nil
	}
	for _, p := range plan.Write {
		p.Updated, p.Reorder = 0, 0 // the tills' own
		if _, err := h.PutProduct(ctx, store, p, by); err != nil {
			return nil, err
		}
	}
	h.log.Info("catalog imported", "store", store, "added", plan.Added, "changed", plan.Changed, "unchanged", plan.Unchanged, "by", by)
	return plan, nil
}

// apiCatalogImport: POST /hq/api/catalog/import?store=ID|all&currency=EUR[&apply=1]
// with the CSV file as the body; a preview unless apply=1.
func (h *HQ) apiCatalogImport(w http.ResponseWriter, r *http.Request, s *session) {
	store, err := storeParam(r.URL.Query().Get("store"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	apply := r.URL.Query().Get("apply") == "1"
	plan, err := h.ImportCatalog(r.Context(), store, http.MaxBytesReader(w, r.Body, 64<<20), r.URL.Query().Get("currency"), apply, s.user)
	var ce *catalogcsv.Error
	if errors.As(err, &ce) {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "the file has problems; nothing imported",
			"problems": ce.Problems, "truncated": ce.Truncated})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	changes := []catalogcsv.Change{}
	for _, c := range plan.Changes {
		if c.Kind != catalogcsv.Unchanged {
			changes = append(changes, c)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"added": plan.Added, "changed": plan.Changed, "unchanged": plan.Unchanged,
		"changes": changes, "applied": apply, "note": "opening stock and reorder points are set at a till"})
}

// apiCatalogExport: GET /hq/api/catalog/export?store=ID|all&currency=EUR.
func (h *HQ) apiCatalogExport(w http.ResponseWriter, r *http.Request, _ *session) {
	store, err := storeParam(r.URL.Query().Get("store"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	ps, err := h.catalogOf(r.Context(), store)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="catalog.csv"`)
	if err := catalogcsv.Write(w, ps, r.URL.Query().Get("currency")); err != nil {
		h.log.Warn("export catalog", "err", err)
	}
}
