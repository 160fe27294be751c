package hq_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/crdt/catalogcsv"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
)

// TestCatalogImportAtHQ: a preview changes nothing, an import sends every
// added product down to the store, the same file again changes nothing,
// and a bad file lists its rows and changes nothing.
func TestCatalogImportAtHQ(t *testing.T) {
	ctx := t.Context()
	store := hqtest.NewStore(50, 1)
	h := newHQ(t, backends[0].open(t, backends[0].place(t)), store)
	file := "sku,name,barcodes,price,tax_rate,unit,opening_stock\n10001,Milk,4006381333931,1.29,7,ea,10\n10002,Bread,,2.49,7,ea,\n"
	plan, err := h.ImportCatalog(ctx, &store.ID, strings.NewReader(file), "EUR", false, "admin")
	if err != nil || plan.Added != 2 {
		t.Fatalf("preview: %+v %v", plan, err)
	}
	changes := func() []hqapi.Change {
		cs, err := h.ChangesFor(ctx, store.ID, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		return cs.Changes
	}
	if n := len(changes()); n != 0 {
		t.Fatalf("a preview made %d changes", n)
	}
	if _, err := h.ImportCatalog(ctx, &store.ID, strings.NewReader(file), "EUR", true, "admin"); err != nil {
		t.Fatal(err)
	}
	cs := changes()
	if len(cs) != 2 || cs[0].Product == nil || cs[0].Product.SKU != "10001" || cs[0].Product.Price != 129 {
		t.Fatalf("changes after the import: %+v", cs)
	}
	plan, err = h.ImportCatalog(ctx, &store.ID, strings.NewReader(file), "EUR", true, "admin")
	if err != nil || plan.Unchanged != 2 || len(changes()) != 2 {
		t.Errorf("the same file again: %+v %v", plan, err)
	}
	bad := "sku,name,barcodes,price,tax_rate,unit\n10003,Tea,4006381333932,-1,7,ea\n10004,Jam,4006381333931,1,7,ea\n"
	_, err = h.ImportCatalog(ctx, &store.ID, strings.NewReader(bad), "EUR", true, "admin")
	var ce *catalogcsv.Error
	if !errors.As(err, &ce) || len(ce.Problems) != 3 {
		t.Fatalf("bad file: %v", err)
	}
	if !strings.Contains(err.Error(), "line 3 (sku 10004): barcode 4006381333931 belongs to sku 10001 (Milk)") {
		t.Errorf("bad file: %v", err)
	}
	if len(changes()) != 2 {
		t.Error("a bad file changed the catalog")
	}
}
