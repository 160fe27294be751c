package ledger_test

import (
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

func TestReturnWithoutReceiptFolds(t *testing.T) {
	store := ledger.StoreID{3}
	till := ledgertest.NewTill(store, 1, 1)
	st := ledger.NewState(store)
	apply := func(b ledger.Body) {
		t.Helper()
		ev, err := till.Next(b, 1000+int64(till.Seq), "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
	apply(&ledger.ShiftOpen{Currency: "EUR", Float: 1000, Staff: "1"})
	// 2 x 2.49 at 7% back in cash: 4.98, tax 0.33.
	ret := &ledger.Return{Currency: "EUR", TaxIncluded: true, Reason: "no receipt", Staff: "1", Approver: "3",
		Lines:   []ledger.Line{{SKU: "bread", Name: "Bread", Qty: 2, UnitPrice: 249, TaxRate: 700}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 498}}}
	apply(ret)
	r := st.Fold().TillReport(till.ID)
	if r.Refunds != 1 || r.Refunded != 498 || r.Total != -498 || r.Tax != -33 || r.CashExpected != 1000-498 || r.RefundTenders[ledger.Cash] != 498 {
		t.Fatalf("report after a return: %+v", r)
	}
	if got := st.Fold().Stock("bread")[till.ID]; got != 2 {
		t.Fatalf("stock of bread %d, want +2", got)
	}
	if sh := st.Fold().OpenShift(till.ID); sh == nil || sh.Report.CashExpected != 502 {
		t.Fatalf("shift after the return: %+v", sh)
	}

	for _, tc := range []struct {
		name string
		edit func(r *ledger.Return)
		want string
	}{
		{"more back than the goods", func(r *ledger.Return) { r.Tenders[0].Amount = 500 }, "tendered 5.00"},
		{"less back", func(r *ledger.Return) { r.Tenders[0].Amount = 400 }, "tendered"},
		{"no reason", func(r *ledger.Return) { r.Reason = "" }, "needs a reason"},
		{"no lines", func(r *ledger.Return) { r.Lines = nil }, "lines"},
		{"negative quantity", func(r *ledger.Return) { r.Lines[0].Qty = -2 }, "quantity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := *ret
			b.Lines = append([]ledger.Line(nil), ret.Lines...)
			b.Tenders = append([]ledger.Tender(nil), ret.Tenders...)
			tc.edit(&b)
			_, err := ledgertest.NewTill(store, 1, 1).Next(&b, 1000, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Next = %v, want an error with %q", err, tc.want)
			}
		})
	}
	// It decodes as itself.
	ev, _ := ledgertest.NewTill(store, 1, 1).Next(ret, 1000, "")
	back, err := ledger.Decode(ev.Bytes())
	if err != nil || back.Kind() != ledger.KindReturn || back.Body.(*ledger.Return).Reason != "no receipt" {
		t.Fatalf("decoded %v %v", back, err)
	}
	if ledger.IsBaseKind(ledger.KindReturn) {
		t.Fatal("return is a base kind: older releases would be sent it")
	}
}
