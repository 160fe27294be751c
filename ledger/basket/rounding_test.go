package basket_test

import (
	"errors"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

func TestPayRounded(t *testing.T) {
	p, err := basket.Price(basket.Basket{TaxIncluded: true, LimitBP: -1, Items: []basket.Item{{
		Product: basket.Product{SKU: "choy", Name: "Choy", Price: 12345, Currency: "UZS"}, Qty: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	cash := func(m ledger.Money) ledger.Tender { return ledger.Tender{Kind: ledger.Cash, Amount: m} }
	card := func(m ledger.Money) ledger.Tender { return ledger.Tender{Kind: ledger.Card, Amount: m} }
	for name, tc := range map[string]struct {
		ts                      []ledger.Tender
		step                    ledger.Money
		rounding, change, rstep ledger.Money
		short                   bool
	}{
		"cash down":          {ts: []ledger.Tender{cash(12300)}, step: 100, rounding: -45, rstep: 100},
		"cash with change":   {ts: []ledger.Tender{cash(20000)}, step: 100, rounding: -45, change: 7700, rstep: 100},
		"cash to 1000 down":  {ts: []ledger.Tender{cash(12000)}, step: 1000, rounding: -345, rstep: 1000},
		"card pays exactly":  {ts: []ledger.Tender{card(12345)}, step: 100},
		"card and cash":      {ts: []ledger.Tender{card(345), cash(12000)}, step: 1000, rounding: 0, rstep: 1000},
		"no step":            {ts: []ledger.Tender{cash(12345)}, step: 0},
		"short of the round": {ts: []ledger.Tender{cash(12200)}, step: 100, short: true},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := p.PayRounded(tc.ts, tc.step)
			if tc.short {
				if !errors.Is(err, ledger.ErrTendersShort) {
					t.Fatalf("got %v, want tenders short", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Rounding != tc.rounding || s.Change != tc.change || s.RoundStep != tc.rstep {
				t.Fatalf("rounding %v change %v step %v, want %v %v %v", s.Rounding, s.Change, s.RoundStep, tc.rounding, tc.change, tc.rstep)
			}
			// The ledger agrees with the basket.
			s.Staff = "1"
			if _, err := ledgertest.NewTill(ledger.StoreID{1}, 1, 1).Next(s, 1, "k"); err != nil {
				t.Fatalf("the ledger refuses the basket's sale: %v", err)
			}
		})
	}
}

func TestCheckSmallest(t *testing.T) {
	if err := basket.CheckSmallest("price", 12300, 100, nil); err != nil {
		t.Fatal(err)
	}
	err := basket.CheckSmallest("price", 12345, 100, nil)
	if !errors.Is(err, basket.ErrInvalid) || err.Error() != "price 12345: not a multiple of 100, the smallest amount in use here" {
		t.Fatalf("12345 in steps of 100: %v", err)
	}
	if err := basket.CheckSmallest("price", 12345, 0, nil); err != nil {
		t.Fatal(err)
	}
}
