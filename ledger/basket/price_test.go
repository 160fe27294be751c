package basket

import (
	"errors"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
)

var (
	milk   = Product{SKU: "milk", Name: "Milk", Price: 119, Currency: "EUR", TaxRate: 700, Unit: ledger.Each}
	apples = Product{SKU: "apples", Name: "Apples", Price: 299, Currency: "EUR", TaxRate: 700, Unit: ledger.Kilogram}
	soap   = Product{SKU: "soap", Name: "Soap", Price: 250, Currency: "EUR", TaxRate: 1900, Unit: ledger.Each}
)

func TestPrice(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		b                       Basket
		total, discounts, units ledger.Money
		over                    string // substring of Over joined; "" for none
		err                     string
	}{
		{name: "empty", b: Basket{TaxIncluded: true, LimitBP: 1000}},
		{name: "units and weight", b: Basket{Items: []Item{{Product: milk, Qty: 4}, {Product: apples, Qty: 750}}, TaxIncluded: true},
			total: 4*119 + 224, units: 5},
		{name: "5% line discount rounds half up", b: Basket{Items: []Item{{Product: milk, Qty: 4, Discount: &Discount{Kind: Percent, Value: 500}}},
			TaxIncluded: true, LimitBP: 1000}, total: 476 - 24, discounts: 24, units: 4},
		{name: "line discount above the limit", b: Basket{Items: []Item{{Product: milk, Qty: 1, Discount: &Discount{Kind: Percent, Value: 2000}}},
			TaxIncluded: true, LimitBP: 1000}, total: 119 - 24, discounts: 24, units: 1, over: "20% off Milk"},
		{name: "no limit", b: Basket{Items: []Item{{Product: milk, Qty: 1, Discount: &Discount{Kind: Percent, Value: 2000}}},
			TaxIncluded: true, LimitBP: -1}, total: 119 - 24, discounts: 24, units: 1},
		{name: "stacked discounts above the limit", b: Basket{Items: []Item{{Product: soap, Qty: 4, Discount: &Discount{Kind: Percent, Value: 1000}}},
			Discount: &Discount{Kind: Percent, Value: 1000}, TaxIncluded: true, LimitBP: 1000}, total: 1000 - 100 - 90, discounts: 190, units: 4, over: "in all"},
		{name: "approved stays approved", b: Basket{Items: []Item{{Product: milk, Qty: 1,
			Discount: &Discount{Kind: Percent, Value: 2000, ApprovedBy: "1", ApprovedFor: "milk|1|119|700|24"}}}, TaxIncluded: true, LimitBP: 1000},
			total: 119 - 24, discounts: 24, units: 1},
		{name: "stale approval is dropped", b: Basket{Items: []Item{{Product: milk, Qty: 2,
			Discount: &Discount{Kind: Percent, Value: 2000, ApprovedBy: "1", ApprovedFor: "milk|1|119|700|24"}}}, TaxIncluded: true, LimitBP: 1000},
			total: 238 - 48, discounts: 48, units: 2, over: "20% off Milk"},
		{name: "tax added", b: Basket{Items: []Item{{Product: soap, Qty: 1}}}, total: 250 + 48, units: 1},
		{name: "discount above the line", b: Basket{Items: []Item{{Product: milk, Qty: 1, Discount: &Discount{Kind: Amount, Value: 200}}}},
			err: "more than the line"},
		{name: "cart discount above the cart", b: Basket{Items: []Item{{Product: milk, Qty: 1}}, Discount: &Discount{Kind: Amount, Value: 200}},
			err: "more than the cart"},
		{name: "two currencies", b: Basket{Items: []Item{{Product: milk, Qty: 1}, {Product: Product{SKU: "x", Name: "X", Currency: "USD", Unit: ledger.Each}, Qty: 1}}},
			err: "the sale in EUR"},
		{name: "zero quantity", b: Basket{Items: []Item{{Product: milk, Qty: 0}}}, err: "must be positive"},
		{name: "percent above 100", b: Basket{Items: []Item{{Product: milk, Qty: 1}}, Discount: &Discount{Kind: Percent, Value: 10001}},
			err: "above 100%"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Price(tc.b)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("Price = %v, want ErrInvalid with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Totals.Total != tc.total || p.Totals.Discounts != tc.discounts || ledger.Money(p.Units) != tc.units {
				t.Errorf("total %v, discounts %v, units %d; want %v, %v, %d", p.Totals.Total, p.Totals.Discounts, p.Units, tc.total, tc.discounts, tc.units)
			}
			over := strings.Join(p.Over, "; ")
			if (tc.over == "") != (over == "") || !strings.Contains(over, tc.over) {
				t.Errorf("over %q, want %q", over, tc.over)
			}
		})
	}
}

func TestChange(t *testing.T) {
	cash := func(m ledger.Money) ledger.Tender { return ledger.Tender{Kind: ledger.Cash, Amount: m} }
	card := func(m ledger.Money) ledger.Tender { return ledger.Tender{Kind: ledger.Card, Amount: m} }
	for _, tc := range []struct {
		name   string
		ts     []ledger.Tender
		total  ledger.Money
		change ledger.Money
		err    string
	}{
		{"exact card", []ledger.Tender{card(500)}, 500, 0, ""},
		{"cash with change", []ledger.Tender{cash(2000)}, 1234, 766, ""},
		{"card and cash", []ledger.Tender{card(1000), cash(500)}, 1234, 266, ""},
		{"change from card", []ledger.Tender{card(2000)}, 1234, 0, "change comes from cash only"},
		{"change above the cash", []ledger.Tender{card(1300), cash(10)}, 1234, 0, "change comes from cash only"},
		{"short", []ledger.Tender{cash(1000)}, 1234, 0, "tendered"},
		{"none", nil, 1, 0, "no tender"},
		{"negative", []ledger.Tender{cash(-1)}, 1, 0, "must be positive"},
		{"unknown kind", []ledger.Tender{{Kind: "iou", Amount: 1}}, 1, 0, "unknown kind"},
		{"above the limit", []ledger.Tender{cash(MaxTender + 1)}, 1, 0, "above"},
		{"too many", make([]ledger.Tender, ledger.MaxTenders+1), 1, 0, "at most"},
	} {
		got, err := Change(tc.ts, tc.total)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: Change = %v, %v; want error %q", tc.name, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.change {
			t.Errorf("%s: Change = %v, %v; want %v", tc.name, got, err, tc.change)
		}
	}
}

// TestPayMakesAValidSale: what Pay returns passes the ledger's own check
// of a sale once staff is set.
func TestPayMakesAValidSale(t *testing.T) {
	p, err := Price(Basket{Items: []Item{{Product: milk, Qty: 3, Discount: AmountOff(7)}, {Product: apples, Qty: 1234}},
		Discount: AmountOff(11), TaxIncluded: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Pay([]ledger.Tender{{Kind: ledger.Card, Amount: 100}, {Kind: ledger.Cash, Amount: 5000}})
	if err != nil {
		t.Fatal(err)
	}
	s.Staff = "1"
	ev := &ledger.Event{Seq: 1, Time: ledger.HLC{Wall: 1}, Body: s}
	if err := ev.Check(); err != nil {
		t.Fatalf("ledger refuses the sale: %v", err)
	}
	if want := 100 + 5000 - p.Totals.Total; s.Change != want {
		t.Fatalf("change %v, want %v", s.Change, want)
	}
	if _, err := (Priced{}).Pay([]ledger.Tender{{Kind: ledger.Cash, Amount: 1}}); err == nil {
		t.Fatal("an empty basket paid")
	}
}

// BenchmarkPrice prices a 20-line basket with line and cart discounts, as
// the cart does on every scan.
func BenchmarkPrice(b *testing.B) {
	items := make([]Item, 20)
	for i := range items {
		items[i] = Item{Product: []Product{milk, apples, soap}[i%3], Qty: int64(1 + i), Discount: &Discount{Kind: Percent, Value: 500}}
	}
	for b.Loop() {
		if _, err := Price(Basket{Items: items, Discount: &Discount{Kind: Amount, Value: 100}, TaxIncluded: true, LimitBP: 1000}); err != nil {
			b.Fatal(err)
		}
	}
}
