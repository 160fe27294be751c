package node_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/hw/sim"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/ui"
)

// Sell prices by the store's tax_included setting, whatever the request
// says, and records an approved price override with its reason.
func TestSellTaxSettingAndOverride(t *testing.T) {
	s := newStore(t, 1)
	a := s.start(t, s.tills[0])
	seed(t, a, 2)
	ctx := t.Context()
	p := node.DemoCatalog(2)[0]
	ev := sell(t, a, "incl", p.SKU, 1)
	if sale := ev.Body.(*ledger.Sale); !sale.TaxIncluded {
		t.Fatalf("default store: sale %+v says tax added", sale)
	}
	if err := a.PutSetting(ctx, ui.SettingTaxIncluded, "false"); err != nil {
		t.Fatal(err)
	}
	o := &basket.Override{Price: p.Price - 1, Reason: "label", ApprovedBy: "1"}
	// The request asks for tax included: the setting wins.
	ev, _, err := a.Sell(ctx, ui.SaleRequest{IdempotencyKey: "added", TaxAdded: false,
		Lines:   []ui.SaleLine{{SKU: p.SKU, Qty: 2, Override: o}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 100_000}}})
	if err != nil {
		t.Fatal(err)
	}
	sale := ev.Body.(*ledger.Sale)
	tot, _ := sale.Totals()
	l := sale.Lines[0]
	if sale.TaxIncluded || tot.Net != 2*(p.Price-1) || tot.Total != tot.Net+tot.Tax || tot.Tax == 0 {
		t.Fatalf("tax-added sale %+v totals %+v", sale, tot)
	}
	if l.UnitPrice != p.Price-1 || l.ListPrice != p.Price || l.OverrideReason != "label" || l.OverrideBy != "1" {
		t.Fatalf("overridden line %+v", l)
	}
	// An override nobody approved is refused, nothing recorded.
	before := a.DB().Vector()[a.ID()]
	if _, _, err := a.Sell(ctx, ui.SaleRequest{IdempotencyKey: "bad",
		Lines:   []ui.SaleLine{{SKU: p.SKU, Qty: 1, Override: &basket.Override{Price: -5, Reason: "x", ApprovedBy: "1"}}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 100_000}}}); err == nil {
		t.Fatal("a negative override was sold")
	}
	if after := a.DB().Vector()[a.ID()]; after != before {
		t.Fatalf("a refused sale moved the chain from %d to %d", before, after)
	}
}

// The printed receipt of a tax-added sale with a price override: the
// override's list price and reason, and the tax added before the total
// (5.00 at 19%: net 5.00, tax 0.95, total 5.95).
func TestReceiptShowsOverrideAndTaxAdded(t *testing.T) {
	s := newStore(t, 1)
	set := sim.NewSet()
	a := s.startWith(t, s.tills[0], set)
	ctx := t.Context()
	p := crdt.Product{SKU: "B1", Name: "Batteries", Price: 599, Currency: "EUR", TaxRate: 1900, Unit: ledger.Each}
	if err := a.Inventory().PutProduct(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := a.PutSetting(ctx, ui.SettingTaxIncluded, "false"); err != nil {
		t.Fatal(err)
	}
	ev, _, err := a.Sell(ctx, ui.SaleRequest{IdempotencyKey: "k",
		Lines:   []ui.SaleLine{{SKU: "B1", Qty: 1, Override: &basket.Override{Price: 500, Reason: "shelf label", ApprovedBy: "3"}}},
		Tenders: []ledger.Tender{{Kind: ledger.Card, Amount: 595}}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the receipt printed", func() bool { return len(set.Printer.Receipts()) == 1 })
	txt := set.Printer.Receipts()[0].Text()
	for _, want := range []string{"Price override, was €5.99: shelf label", "Tax", "0.95", "TOTAL", "€5.95", receiptNo(a, ev)} {
		if !strings.Contains(txt, want) {
			t.Errorf("receipt lacks %q:\n%s", want, txt)
		}
	}
	if strings.Contains(txt, "Prices include tax") {
		t.Errorf("a tax-added receipt says prices include tax:\n%s", txt)
	}
}

// A till stopped right after a burst of sales has some of their stock
// movements still queued (crdt.QueueMovements; Close does not write
// them). Its next start mends them from the ledger: stock equals the
// fold of the ledger.
func TestStockRepairedAfterAQuickStop(t *testing.T) {
	s := newStore(t, 1)
	r := s.start(t, s.tills[0])
	seed(t, r, 3)
	for i := range 20 {
		sell(t, r, fmt.Sprintf("quick-%d", i), "10001", 1)
	}
	r.stop()
	r = s.start(t, s.tills[0])
	waitFor(t, "stock equal to the ledger's fold after the restart", func() bool { return agree(r) == nil })
	total, _, err := r.Inventory().Stock(t.Context(), "10001")
	if err != nil || total != 100-20 {
		t.Fatalf("stock of 10001 after the restart = %d, %v; want %d", total, err, 100-20)
	}
}
