package basket

import (
	"errors"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
)

func TestLabelItem(t *testing.T) {
	layouts := DefaultLayouts()
	decode := func(code string) Variable {
		t.Helper()
		c, err := Parse(code)
		if err != nil {
			t.Fatal(err)
		}
		v, err := DecodeVariable(c, layouts)
		if err != nil {
			t.Fatalf("decode %s: %v", code, err)
		}
		return v
	}
	code := func(payload string) string {
		c, err := CheckDigit(payload)
		if err != nil {
			t.Fatal(err)
		}
		return payload + string(c)
	}
	// 0.750 kg of apples at 2.99/kg: 2.24.
	it, err := LabelItem(decode(code("280000100750")), apples)
	if err != nil || it.Qty != 750 || it.Override != nil {
		t.Fatalf("weight label: %+v %v", it, err)
	}
	// A 3.50 price label on soap (sold by the piece): one at 3.50.
	it, err = LabelItem(decode(code("210000100350")), soap)
	if err != nil || it.Qty != 1 || it.Override == nil || it.Override.Price != 350 || it.Override.ApprovedBy != LabelApprover {
		t.Fatalf("price label, piece: %+v %v", it, err)
	}
	// A 2.24 price label on apples: the weight it buys, the line comes
	// to 2.24 exactly.
	for _, cents := range []int{224, 1, 99, 12345, 299} {
		v := Variable{Prefix: "21", Item: "00001", Value: cents, Measure: ByPrice}
		it, err := LabelItem(v, apples)
		if err != nil {
			t.Fatalf("price label %d on apples: %v", cents, err)
		}
		p, err := Price(Basket{Items: []Item{it}, TaxIncluded: true})
		if err != nil || p.Totals.Total != ledger.Money(cents) {
			t.Fatalf("price label %d on apples: %+v total %v, %v", cents, it, p.Totals.Total, err)
		}
	}
	for _, tc := range []struct {
		v    Variable
		p    Product
		want string
	}{
		{Variable{Value: 500, Measure: ByWeight}, soap, "sold by the piece"},
		{Variable{Value: 0, Measure: ByWeight}, apples, "must be positive"},
		{Variable{Value: 100, Measure: ByPrice}, Product{SKU: "x", Name: "Free", Unit: ledger.Kilogram, Currency: "EUR"}, "cannot tell the weight"},
	} {
		if _, err := LabelItem(tc.v, tc.p); err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LabelItem(%+v, %s) = %v, want %q", tc.v, tc.p.Name, err, tc.want)
		}
	}
	// The keys a catalog lists such a product under.
	v := decode(code("280000100750"))
	if keys := v.ItemKeys(); len(keys) != 2 || keys[0] != code("280000100000") || keys[1] != "2800001" {
		t.Fatalf("item keys %v", keys)
	}
}
