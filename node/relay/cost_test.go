package relay_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
	"github.com/tillmesh/tillmesh/node/relay"
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

// While a till of the store does not take cost prices (an older
// release, which would write the product back without one), HQ's cost
// waits in a setting; it reaches the product once every till takes it.
func TestHQCostWaitsForEveryTill(t *testing.T) {
	store := hqtest.NewStore(42, 2)
	srv := newHQServer(t, store)
	var open atomic.Bool
	m := newMesh(t, store, srv, func(c *relay.Config) {
		c.CostGate = func(context.Context) error {
			if open.Load() {
				return nil
			}
			return errors.New("till 2 runs a release that does not know cost_price")
		}
	})
	ctx := t.Context()
	bread := crdt.Product{SKU: "10002", Name: "Bread", Price: 129, Currency: "EUR", TaxRate: 700, Unit: ledger.Each}
	if err := m.inv.PutProduct(ctx, bread); err != nil {
		t.Fatal(err)
	}
	m.start(t)
	waitFor(t, "HQ to know the store's catalog", 10*time.Second, func() bool {
		cat, err := srv.Catalog(ctx)
		return err == nil && len(cat.Products) == 1
	})
	set := hqapi.Product{SKU: "10002", Name: "Bread", Price: 139, Currency: "EUR", TaxRate: 700, Unit: ledger.Each, Cost: 95}
	if _, err := srv.EditProduct(ctx, &store.ID, set, []string{hqapi.FieldPrice, hqapi.FieldCost}, "admin"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the price at the till and the cost held", 10*time.Second, func() bool {
		p, err := m.inv.Product(ctx, "10002")
		held, herr := m.inv.Setting(ctx, relay.HeldCostSetting+"10002")
		return err == nil && p.Price == 139 && herr == nil && string(held) == "95"
	})
	if p, _ := m.inv.Product(ctx, "10002"); p.Cost != 0 {
		t.Fatalf("cost written while a till does not take it: %+v", p)
	}
	open.Store(true)
	waitFor(t, "the held cost at the till once every till takes it", 10*time.Second, func() bool {
		p, err := m.inv.Product(ctx, "10002")
		_, herr := m.inv.Setting(ctx, relay.HeldCostSetting+"10002")
		return err == nil && p.Cost == 95 && p.Price == 139 && errors.Is(herr, crdt.ErrNotFound)
	})
}
