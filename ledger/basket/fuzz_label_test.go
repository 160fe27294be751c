package basket

import (
	"errors"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
)

// FuzzLabelItem reads any code with the default layouts and makes the
// item of each test product it could stand for: an item comes back only
// when it prices, a price label's line comes to the label's price to the
// cent, and a weight label's quantity is its weight.
func FuzzLabelItem(f *testing.F) {
	for _, s := range []string{"2800001007507", "2100001003509", "2100001000011", "0212345600109", "2999999999994", "2100000000005"} {
		f.Add(s, int64(299))
	}
	f.Fuzz(func(t *testing.T, code string, kgPrice int64) {
		c, err := Parse(code)
		if err != nil {
			return
		}
		v, err := DecodeVariable(c, DefaultLayouts())
		if err != nil {
			if !errors.Is(err, ErrNotVariable) && !errors.Is(err, ErrCheckDigit) && !errors.Is(err, ErrFormat) {
				t.Fatalf("DecodeVariable(%s): %v", code, err)
			}
			return
		}
		weighed := Product{SKU: "w", Name: "Weighed", Price: ledger.Money(kgPrice), Currency: "EUR", TaxRate: 700, Unit: ledger.Kilogram}
		for _, p := range []Product{weighed, {SKU: "p", Name: "Piece", Price: 250, Currency: "EUR", TaxRate: 1900, Unit: ledger.Each}} {
			if p.Validate() != nil {
				continue
			}
			it, err := LabelItem(v, p)
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("LabelItem(%+v, %s): %v", v, p.Name, err)
				}
				continue
			}
			if it.Override != nil {
				it.Override.ApprovedBy = LabelApprover
			}
			pr, err := Price(Basket{Items: []Item{it}, TaxIncluded: true, LimitBP: -1})
			if err != nil {
				t.Fatalf("label %s on %s made %+v, which does not price: %v", code, p.Name, it, err)
			}
			switch v.Measure {
			case ByPrice:
				if pr.Totals.Total != ledger.Money(v.Value) {
					t.Fatalf("price label %s on %s: total %v, want %d", code, p.Name, pr.Totals.Total, v.Value)
				}
			case ByWeight:
				if it.Qty != int64(v.Value) {
					t.Fatalf("weight label %s: qty %d, want %d", code, it.Qty, v.Value)
				}
			}
		}
	})
}
