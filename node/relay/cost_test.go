package relay_test

import (
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
)

// An HQ change that does not give a cost price keeps the store's; one
// naming the cost sets it.
func TestHQEditKeepsCostPrice(t *testing.T) {
	store := hqtest.NewStore(42, 2)
	srv := newHQServer(t, store)
	m := newMesh(t, store, srv)
	ctx := t.Context()
	bread := crdt.Product{SKU: "10002", Name: "Bread", Price: 129, Currency: "EUR", TaxRate: 700, Unit: ledger.Each, Cost: 80}
	if err := m.inv.PutProduct(ctx, bread); err != nil {
		t.Fatal(err)
	}
	m.start(t)
	waitFor(t, "HQ to know the store's catalog", 10*time.Second, func() bool {
		cat, err := srv.Catalog(ctx)
		return err == nil && len(cat.Products) == 1 && cat.Products[0].Product.Cost == 80
	})
	// A whole product from HQ without a cost (as an older form sends it).
	whole := bread
	whole.Cost, whole.Price = 0, 139
	if _, err := srv.PutProduct(ctx, &store.ID, whole, "admin"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the price at the till", 10*time.Second, func() bool {
		p, err := m.inv.Product(ctx, "10002")
		return err == nil && p.Price == 139
	})
	if p, _ := m.inv.Product(ctx, "10002"); p.Cost != 80 {
		t.Fatalf("cost after HQ's edit without one: %+v; want 80 kept", p)
	}
	set := whole
	set.Cost = 95
	if _, err := srv.EditProduct(ctx, &store.ID, set, []string{hqapi.FieldCost}, "admin"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the cost from HQ at the till", 10*time.Second, func() bool {
		p, err := m.inv.Product(ctx, "10002")
		return err == nil && p.Cost == 95 && p.Price == 139
	})
}
