package ledger

import (
	"errors"
	"math"
	"testing"
)

func TestMulDivRound(t *testing.T) {
	for _, tc := range []struct {
		a, b, c, want int64
	}{
		{597, 2000, 12000, 100}, // 99.5 rounds away from zero
		{-597, 2000, 12000, -100},
		{998, 825, 10000, 82}, // 82.335
		{1234, 299, 1000, 369},
		{5, 1, 10, 1},   // 0.5 -> 1
		{-5, 1, 10, -1}, // -0.5 -> -1
		{4, 1, 10, 0},
		{math.MaxInt64, 2, 2, math.MaxInt64}, // 128-bit intermediate
	} {
		got, err := mulDivRound(tc.a, tc.b, tc.c)
		if err != nil || got != tc.want {
			t.Errorf("mulDivRound(%d, %d, %d) = %d, %v; want %d", tc.a, tc.b, tc.c, got, err, tc.want)
		}
	}
	if _, err := mulDivRound(math.MaxInt64, 3, 2); !errors.Is(err, ErrOverflow) {
		t.Errorf("overflow: got %v, want ErrOverflow", err)
	}
}

// The worked examples of the package documentation.
func TestTotalsWorkedExamples(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		sale                  Sale
		total, tax, net       Money
		lineTax, lineDiscount []Money
	}{
		{
			name:  "tax included, half rounds away",
			sale:  Sale{TaxIncluded: true, Lines: []Line{{SKU: "a", Qty: 3, UnitPrice: 199, TaxRate: 2000}}},
			total: 597, tax: 100, net: 497, lineTax: []Money{100},
		},
		{
			name:  "tax excluded",
			sale:  Sale{Lines: []Line{{SKU: "a", Qty: 2, UnitPrice: 499, TaxRate: 825}}},
			total: 1080, tax: 82, net: 998, lineTax: []Money{82},
		},
		{
			name:  "weighed goods in grams",
			sale:  Sale{TaxIncluded: true, Lines: []Line{{SKU: "a", Qty: 1234, Unit: Kilogram, UnitPrice: 299, TaxRate: 0}}},
			total: 369, tax: 0, net: 369, lineTax: []Money{0},
		},
		{
			name: "cart discount split in proportion",
			sale: Sale{TaxIncluded: true, CartDiscount: 100, Lines: []Line{
				{SKU: "a", Qty: 1, UnitPrice: 300, TaxRate: 2000},
				{SKU: "b", Qty: 1, UnitPrice: 700, TaxRate: 0},
			}},
			// a pays 270 incl. 45 tax; b pays 630.
			total: 900, tax: 45, net: 855, lineTax: []Money{45, 0}, lineDiscount: []Money{30, 70},
		},
		{
			name: "cart discount remainder goes to the largest fraction",
			sale: Sale{CartDiscount: 10, Lines: []Line{
				{SKU: "a", Qty: 1, UnitPrice: 100},
				{SKU: "b", Qty: 1, UnitPrice: 100},
				{SKU: "c", Qty: 1, UnitPrice: 100},
			}},
			total: 290, lineDiscount: []Money{4, 3, 3}, net: 290, lineTax: []Money{0, 0, 0},
		},
		{
			name:  "line discount before tax",
			sale:  Sale{Lines: []Line{{SKU: "a", Qty: 1, UnitPrice: 1000, Discount: 150, TaxRate: 1000}}},
			total: 935, tax: 85, net: 850, lineTax: []Money{85},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.sale.Totals()
			if err != nil {
				t.Fatal(err)
			}
			if got.Total != tc.total || got.Tax != tc.tax || got.Net != tc.net {
				t.Errorf("total/tax/net = %v/%v/%v, want %v/%v/%v", got.Total, got.Tax, got.Net, tc.total, tc.tax, tc.net)
			}
			for i, want := range tc.lineTax {
				if got.Lines[i].Tax != want {
					t.Errorf("line %d tax = %v, want %v", i, got.Lines[i].Tax, want)
				}
			}
			for i, want := range tc.lineDiscount {
				if got.Lines[i].CartDiscount != want {
					t.Errorf("line %d cart discount = %v, want %v", i, got.Lines[i].CartDiscount, want)
				}
			}
			var bandTax Money
			for _, b := range got.Bands {
				bandTax += b.Tax
			}
			if bandTax != got.Tax {
				t.Errorf("bands sum to tax %v, want %v", bandTax, got.Tax)
			}
		})
	}
}

func TestProrateNeverDrifts(t *testing.T) {
	// 3 units for 1000: refunding 1, 1, 1 gives 333, 334 (of 667 for 2), 333.
	rem, qty := Money(1000), int64(3)
	var back Money
	for qty > 0 {
		p, err := Prorate(rem, 1, qty)
		if err != nil {
			t.Fatal(err)
		}
		back += p
		rem -= p
		qty--
	}
	if back != 1000 || rem != 0 {
		t.Errorf("refunded %v, left %v; want 1000, 0", back, rem)
	}
	if _, err := Prorate(1000, 4, 3); err == nil {
		t.Error("prorate 4 of 3: no error")
	}
}
