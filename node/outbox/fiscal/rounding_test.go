package fiscal_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/outbox"
	"github.com/tillmesh/tillmesh/node/outbox/fiscal"
)

// A sale whose cash was rounded registers its rounding: the payments
// equal the total plus the rounding, as in the signed sale; a void of
// it gives the same back.
func TestFiscalReceiptCarriesCashRounding(t *testing.T) {
	till := ledgertest.NewTill(ledger.StoreID{7}, 1, 1)
	s := &ledger.Sale{Currency: "UZS", TaxIncluded: true, Staff: "1", Lines: []ledger.Line{{SKU: "non", Qty: 3, UnitPrice: 4115, TaxRate: 1200}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 20000}}, Change: 7700, RoundStep: 100, Rounding: -45}
	ev, err := till.Next(s, 1_000, "k")
	if err != nil {
		t.Fatal(err)
	}
	r, err := fiscal.SaleRequest(outbox.Item{Event: ev, Number: 1, Receipt: "1-1"}, "123456789", s)
	if err != nil {
		t.Fatal(err)
	}
	if r.Total != 12345 || r.Rounding != -45 || r.Payments.Cash != 12300 || r.Payments.Cash+r.Payments.Card+r.Payments.Other != r.Total+r.Rounding {
		t.Fatalf("receipt total %d rounding %d payments %+v", r.Total, r.Rounding, r.Payments)
	}
	v := &ledger.Void{Sale: ev.ID(), Currency: "UZS", Total: 12345, Cash: 12300, Rounding: -45, Manager: "9",
		Lines: []ledger.StockLine{{SKU: "non", Qty: 3}}}
	vev, err := till.Next(v, 2_000, "v")
	if err != nil {
		t.Fatal(err)
	}
	vr := fiscal.RefundRequest(outbox.Item{Event: vev, Number: 1, Receipt: "1-2"}, "123456789")
	if vr.Rounding != -45 || vr.Payments.Cash != 12300 || vr.Payments.Card != 0 {
		t.Fatalf("void: rounding %d payments %+v", vr.Rounding, vr.Payments)
	}
}
