package hq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// Where a catalog entry comes from.
const (
	SourceStore = "store" // the store's catalog as its relay last sent it, with HQ's later changes on top
	SourceHQ    = "hq"    // a change made at HQ for a product no store has reported
)

// CatalogEntry is one product (or staff member) as HQ knows it, for one
// store or, with Store nil, for every store.
type CatalogEntry struct {
	Store   *ledger.StoreID `json:"store,omitempty"`
	Source  string          `json:"source,omitempty"`
	Cursor  uint64          `json:"cursor,omitempty"` // newest HQ change applied; 0: none
	At      int64           `json:"at,omitempty"`
	By      string          `json:"by,omitempty"`
	Product hqapi.Product   `json:"product,omitzero"`
	Staff   hqapi.Staff     `json:"staff,omitzero"`
}

// Catalog is what HQ knows of the stores' catalogs and staff: every
// product each store reported, with HQ's changes since applied, plus the
// products and staff HQ sent down that no store has reported yet.
type Catalog struct {
	Products []CatalogEntry `json:"products"`
	Staff    []CatalogEntry `json:"staff"`
}

// PutStoreCatalog keeps the catalog a store's till sent. Every product
// must pass the rules the tills apply; one that does not fails the whole
// call with ErrInvalid and nothing changes.
func (h *HQ) PutStoreCatalog(ctx context.Context, store ledger.StoreID, c hqapi.StoreCatalog) error {
	if h.store(store) == nil {
		return fmt.Errorf("%w %s", ErrUnknownStore, store)
	}
	for i, p := range c.Products {
		if err := CheckProduct(p); err != nil {
			return fmt.Errorf("product %d (SKU %q): %w", i, p.SKU, err)
		}
	}
	defer h.catGen.Add(1) // costPrices: after the write, so no cache holds the old catalog under the new gen
	return h.st.PutStoreCatalog(ctx, store, c)
}

// PutProduct records a whole product (every field) for one store, or
// every store with store nil; relays bring it down into the stores' CRDTs.
func (h *HQ) PutProduct(ctx context.Context, store *ledger.StoreID, p hqapi.Product, by string) (hqapi.Change, error) {
	return h.EditProduct(ctx, store, p, nil, by)
}

// EditProduct records a change of the named fields of a product (nil or
// empty fields: all of them). The tills apply only those fields onto the
// product they hold, so an HQ price edit never touches barcodes. Fields
// not named are taken from what HQ knows of the product (the store's
// reported catalog, or HQ's last change) to make the whole product the
// change carries; a product HQ does not know must come whole.
func (h *HQ) EditProduct(ctx context.Context, store *ledger.StoreID, p hqapi.Product, fields []string, by string) (hqapi.Change, error) {
	for _, f := range fields {
		if !slices.Contains(hqapi.ProductFields, f) {
			return hqapi.Change{}, fmt.Errorf("%w: unknown product field %q (want one of %v)", ErrInvalid, f, hqapi.ProductFields)
		}
	}
	if len(fields) == len(hqapi.ProductFields) {
		fields = nil
	}
	if len(fields) > 0 {
		base, ok, err := h.knownProduct(ctx, store, p.SKU)
		if err != nil {
			return hqapi.Change{}, err
		}
		if !ok {
			return hqapi.Change{}, fmt.Errorf("%w: product %s is not in the catalog HQ knows: give every field to add it", ErrInvalid, p.SKU)
		}
		p = patchProduct(base, p, hqapi.Change{Fields: fields})
		fields = slices.Clone(fields)
		sort.Strings(fields)
	}
	if err := CheckProduct(p); err != nil {
		return hqapi.Change{}, err
	}
	if err := h.checkSmallest(p); err != nil { // i18n.go
		return hqapi.Change{}, err
	}
	return h.addChange(ctx, hqapi.Change{Store: store, Kind: hqapi.KindProduct, Product: &p, Fields: fields, By: by})
}

// patchProduct returns base with the fields c sets taken from p.
func patchProduct(base, p hqapi.Product, c hqapi.Change) hqapi.Product {
	c.Product = &p
	return c.Patch(base)
}

// knownProduct finds the product as HQ knows it for the scope: the
// store's entry, or for every store the first store's that has it.
func (h *HQ) knownProduct(ctx context.Context, store *ledger.StoreID, sku string) (hqapi.Product, bool, error) {
	cat, err := h.Catalog(ctx)
	if err != nil {
		return hqapi.Product{}, false, err
	}
	for _, e := range cat.Products {
		if e.Product.SKU != sku {
			continue
		}
		if store == nil || e.Store == nil || *e.Store == *store {
			return e.Product, true, nil
		}
	}
	return hqapi.Product{}, false, nil
}

// Catalog returns every product of every store's reported catalog, with
// the HQ changes made since applied on top; the products HQ changed that
// no store reported; and the newest change per staff member.
func (h *HQ) Catalog(ctx context.Context) (Catalog, error) {
	all, err := h.st.AllChanges(ctx, 0, 1<<30)
	if err != nil {
		return Catalog{}, err
	}
	out := Catalog{Products: []CatalogEntry{}, Staff: []CatalogEntry{}}
	reported := map[string]bool{} // SKUs some store reported
	var cats map[ledger.StoreID]hqapi.StoreCatalog
	if l, ok := h.st.(StoreCatalogLister); ok {
		if cats, err = l.StoreCatalogs(ctx); err != nil {
			return Catalog{}, fmt.Errorf("store catalogs: %w", err)
		}
	}
	for _, s := range h.storeList() {
		entries, err := h.reportedEntries(ctx, s.rec.ID, all, reported, cats)
		if err != nil {
			return Catalog{}, err
		}
		out.Products = append(out.Products, entries...)
	}
	prods := map[string]CatalogEntry{}
	staff := map[string]CatalogEntry{}
	for _, c := range all {
		scope := ""
		if c.Store != nil {
			scope = c.Store.String()
		}
		e := CatalogEntry{Store: c.Store, Source: SourceHQ, Cursor: c.Cursor, At: c.At, By: c.By}
		switch {
		case c.Kind == hqapi.KindProduct && c.Product != nil && !reported[c.Product.SKU]:
			e.Product = *c.Product
			if old, ok := prods[scope+"/"+c.Product.SKU]; ok {
				e.Product = patchProduct(old.Product, *c.Product, c)
			}
			prods[scope+"/"+c.Product.SKU] = e
		case c.Kind == hqapi.KindStaff && c.Staff != nil:
			e.Staff = *c.Staff
			e.Staff.PINHash = ""
			staff[scope+"/"+c.Staff.ID] = e
		}
	}
	for _, e := range prods {
		out.Products = append(out.Products, e)
	}
	for _, e := range staff {
		out.Staff = append(out.Staff, e)
	}
	scope := func(e CatalogEntry) string {
		if e.Store == nil {
			return ""
		}
		return e.Store.String()
	}
	sort.Slice(out.Products, func(i, j int) bool {
		a, b := out.Products[i], out.Products[j]
		if a.Product.SKU != b.Product.SKU {
			return a.Product.SKU < b.Product.SKU
		}
		return scope(a) < scope(b)
	})
	sort.Slice(out.Staff, func(i, j int) bool { return out.Staff[i].Staff.ID < out.Staff[j].Staff.ID })
	return out, nil
}

// reportedEntries is the catalog store id last reported, with the HQ
// changes made since applied on top; it marks each SKU in reported. A
// store that never reported gives none.
// StoreCatalogLister is storage that reads every store's catalog in one
// read (Badger, PostgreSQL); Catalog reads them so, else one by one.
type StoreCatalogLister interface {
	StoreCatalogs(ctx context.Context) (map[ledger.StoreID]hqapi.StoreCatalog, error)
}

func (h *HQ) reportedEntries(ctx context.Context, id ledger.StoreID, all []hqapi.Change, reported map[string]bool, cats map[ledger.StoreID]hqapi.StoreCatalog) ([]CatalogEntry, error) {
	var sc hqapi.StoreCatalog
	if cats != nil {
		var ok bool
		if sc, ok = cats[id]; !ok {
			return nil, nil
		}
	} else {
		var err error
		sc, err = h.st.StoreCatalog(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("catalog of store %s: %w", id, err)
		}
	}
	idx := make(map[string]int, len(sc.Products))
	entries := make([]CatalogEntry, len(sc.Products))
	for i, p := range sc.Products {
		idx[p.SKU] = i
		reported[p.SKU] = true
		entries[i] = CatalogEntry{Store: &id, Source: SourceStore, Product: p}
	}
	// HQ changes made after the report are not in it yet.
	for _, c := range all {
		if c.Kind != hqapi.KindProduct || c.Product == nil || c.Cursor <= sc.Cursor || (c.Store != nil && *c.Store != id) {
			continue
		}
		i, ok := idx[c.Product.SKU]
		if !ok {
			continue
		}
		e := &entries[i]
		e.Product = patchProduct(e.Product, *c.Product, c)
		e.Cursor, e.At, e.By = c.Cursor, c.At, c.By
	}
	return entries, nil
}
