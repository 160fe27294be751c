package hq_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

func TestStockHealthAgainstReorderPoints(t *testing.T) {
	a := newChainStore(10)
	h := newHQ(t, backends[0].open(t, backends[0].place(t)), a.Store)
	ctx := t.Context()
	health, err := h.StockHealth(ctx, &a.ID)
	if err != nil || len(health) != 1 || !health[0].NoCatalog {
		t.Fatalf("before any catalog: %+v %v", health, err)
	}
	cat := hqapi.StoreCatalog{Products: []hqapi.Product{
		{SKU: "X", Name: "Tea", Price: 250, Currency: "EUR", TaxRate: 700, Unit: ledger.Each, Reorder: 5},
		{SKU: "Y", Name: "Cheese", Price: 1800, Currency: "EUR", TaxRate: 700, Unit: ledger.Kilogram, Reorder: 1000},
		{SKU: "Z", Name: "Soap", Price: 199, Currency: "EUR", TaxRate: 2000, Unit: ledger.Each},
	}, At: day0}
	if err := h.PutStoreCatalog(ctx, a.ID, cat); err != nil {
		t.Fatal(err)
	}
	a.record(t, &ledger.StockReceive{Lines: []ledger.StockLine{sl("X", 4), sl("Y", 2500), sl("Z", 10)}, Staff: "1"}, day0)
	a.record(t, &ledger.StockAdjust{Lines: []ledger.StockLine{sl("W", -3)}, Reason: "sold unreceived", Staff: "1"}, day0+1)
	a.upload(t, h)
	health, err = h.StockHealth(ctx, &a.ID)
	if err != nil || len(health) != 1 {
		t.Fatalf("health: %+v %v", health, err)
	}
	got := health[0]
	// 4 x 2.50 + 2.5 kg x 18.00 + 10 x 1.99 = 10.00 + 45.00 + 19.90
	if got.Value != 7490 || got.Currency != "EUR" || got.Negative != 1 {
		t.Fatalf("value %d %s, negative %d; want 7490 EUR and 1", got.Value, got.Currency, got.Negative)
	}
	if len(got.Low) != 1 || got.Low[0].SKU != "X" || got.Low[0].Qty != 4 || got.Low[0].Reorder != 5 {
		t.Fatalf("low stock %+v, want X at 4 of reorder point 5", got.Low)
	}
}
