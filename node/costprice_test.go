package node_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/ui"
)

// A cost price is written only once every till knows it (an older till
// would erase it on its next edit), and an edit that does not give a
// cost keeps the stored one.
func TestCostPriceGateAndKeep(t *testing.T) {
	s := newStore(t, 2)
	a := s.start(t, s.tills[0])
	b := s.start(t, s.tills[1], a.addr())
	ctx := t.Context()
	waitFor(t, "till 2's kinds, with cost prices", func() bool {
		return a.KindAllowed(ctx, ledger.FeatureCostPrice) == nil && a.Number() == 1 && b.Number() == 2
	})
	tea := ui.Product{SKU: "tea", Name: "Tea", Price: 250, Currency: "EUR", Unit: ledger.Each}
	if err := a.PutProduct(ctx, tea); err != nil {
		t.Fatal(err)
	}

	// Till 2 announces an older release: no cost may be set.
	old := []string{}
	for _, k := range ledger.Kinds {
		old = append(old, string(k))
	}
	announce(t, a, b, append(old, string(ledger.FeatureCashRounding)))
	if got, err := a.TillsNotKnowing(ctx, ledger.FeatureCostPrice); err != nil || len(got) != 1 || got[0] != "till 2" {
		t.Fatalf("cost price with till 2 on an older release: tills not knowing %v, %v; want till 2", got, err)
	}
	costed := tea
	costed.Cost = 140
	err := a.PutProduct(ctx, costed)
	if !errors.Is(err, ui.ErrConflict) || !strings.Contains(err.Error(), "till 2") {
		t.Fatalf("cost with till 2 on an older release: %v; want a conflict naming till 2", err)
	}
	if p, err := a.Inventory().Product(ctx, "tea"); err != nil || p.Cost != 0 {
		t.Fatalf("after the refused cost: %+v, %v; want no cost", p, err)
	}
	// Nor by a catalog file.
	file := "sku,name,barcodes,price,tax_rate,unit,cost\ntea,Tea,,2.50,0,ea,1.40\n"
	if _, err := a.ImportCatalog(ctx, strings.NewReader(file), node.CatalogImport{Apply: true}); !errors.Is(err, ui.ErrConflict) {
		t.Fatalf("a catalog file with a cost and till 2 on an older release: %v; want a conflict", err)
	}
	// An edit without a cost still goes through.
	tea.Price = 260
	if err := a.PutProduct(ctx, tea); err != nil {
		t.Fatalf("an edit without a cost while the gate is closed: %v", err)
	}

	// Till 2 upgraded: the cost is set, and a price edit that does not
	// mention it keeps it.
	announce(t, a, b, append(old, string(ledger.FeatureCashRounding), string(ledger.FeatureCostPrice)))
	if err := a.KindAllowed(ctx, ledger.FeatureCostPrice); err != nil {
		t.Fatalf("cost price once till 2 knows it: %v", err)
	}
	costed.Price = 260
	if err := a.PutProduct(ctx, costed); err != nil {
		t.Fatal(err)
	}
	tea.Price = 270
	if err := a.PutProduct(ctx, tea); err != nil {
		t.Fatal(err)
	}
	p, err := a.Inventory().Product(ctx, "tea")
	if err != nil || p.Cost != 140 || p.Price != 270 {
		t.Fatalf("after a price edit without a cost: %+v, %v; want price 270, cost 140", p, err)
	}
	// A catalog file without a cost keeps it; one with a cost sets it.
	file = "sku,name,barcodes,price,tax_rate,unit\ntea,Tea,,2.80,0,ea\n"
	if _, err := a.ImportCatalog(ctx, strings.NewReader(file), node.CatalogImport{Apply: true}); err != nil {
		t.Fatal(err)
	}
	if p, err := a.Inventory().Product(ctx, "tea"); err != nil || p.Cost != 140 || p.Price != 280 {
		t.Fatalf("after a file without a cost: %+v, %v; want price 280, cost 140", p, err)
	}
	file = "sku,name,barcodes,price,tax_rate,unit,cost\ntea,Tea,,2.70,0,ea,1.40\n"
	if _, err := a.ImportCatalog(ctx, strings.NewReader(file), node.CatalogImport{Apply: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "till 2 to hold the cost", func() bool {
		p, err := b.Inventory().Product(ctx, "tea")
		return err == nil && p.Cost == 140 && p.Price == 270
	})

	// Bad costs are refused, nothing changes.
	for _, c := range []ledger.Money{-1, ledger.MaxPrice + 1} {
		bad := tea
		bad.Cost = c
		if err := a.PutProduct(ctx, bad); !errors.Is(err, ui.ErrBadRequest) {
			t.Fatalf("cost %d: %v; want a bad request", c, err)
		}
	}
	if p, _ := a.Inventory().Product(ctx, "tea"); p.Cost != 140 {
		t.Fatalf("a refused cost changed the stored one: %+v", p)
	}
}
