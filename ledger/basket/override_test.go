package basket

import (
	"errors"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

func TestOverridePricesTheLineAndIsRecorded(t *testing.T) {
	o := &Override{Price: 99, Reason: "dented tin", ApprovedBy: "3"}
	p, err := Price(Basket{Items: []Item{{Product: soap, Qty: 2, Override: o}, {Product: milk, Qty: 1}}, TaxIncluded: true, LimitBP: 1000})
	if err != nil {
		t.Fatal(err)
	}
	l := p.Sale.Lines[0]
	if l.UnitPrice != 99 || l.ListPrice != 250 || l.OverrideReason != "dented tin" || l.OverrideBy != "3" || !l.Overridden() {
		t.Fatalf("overridden line %+v", l)
	}
	if p.Sale.Lines[1].Overridden() || p.Sale.Lines[1].ListPrice != 0 {
		t.Fatalf("untouched line %+v", p.Sale.Lines[1])
	}
	if got, want := p.Totals.Total, ledger.Money(2*99+119); got != want {
		t.Fatalf("total %v, want %v", got, want)
	}
	// The sale the basket makes is one the ledger accepts, and it keeps
	// the override through its encoding.
	s, err := p.Pay([]ledger.Tender{{Kind: ledger.Card, Amount: 2*99 + 119}})
	if err != nil {
		t.Fatal(err)
	}
	s.Staff = "2"
	ev, err := ledgertest.NewTill(ledger.StoreID{1}, 1, 1).Next(s, 1000, "k")
	if err != nil {
		t.Fatalf("ledger refuses the overridden sale: %v", err)
	}
	back, err := ledger.Decode(ev.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Body.(*ledger.Sale).Lines[0]; got != l {
		t.Fatalf("decoded line %+v, want %+v", got, l)
	}
	// A reason without the rest, or an approver missing, is refused.
	bad := *s
	bad.Lines = append([]ledger.Line(nil), s.Lines...)
	bad.Lines[0].OverrideBy = ""
	if _, err := ledgertest.NewTill(ledger.StoreID{1}, 1, 1).Next(&bad, 1000, "k"); err == nil || !strings.Contains(err.Error(), "override approver") {
		t.Fatalf("override without approver: %v", err)
	}
}

func TestOverrideRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Override
		err  string
	}{
		{"negative", Override{Price: -1, Reason: "x", ApprovedBy: "1"}, "must not be negative"},
		{"absurd", Override{Price: 250*MaxOverrideFactor + 1, Reason: "x", ApprovedBy: "1"}, "typing slip"},
		{"above the ledger's bound", Override{Price: ledger.MaxPrice + 1, Reason: "x", ApprovedBy: "1"}, "above"},
		{"no reason", Override{Price: 100, Reason: "  ", ApprovedBy: "1"}, "needs a reason"},
		{"control character", Override{Price: 100, Reason: "a\x07b", ApprovedBy: "1"}, "control character"},
		{"nobody approved", Override{Price: 100, Reason: "x"}, "nobody approved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			_, err := Price(Basket{Items: []Item{{Product: soap, Qty: 1, Override: &o}}, TaxIncluded: true})
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("Price = %v, want ErrInvalid with %q", err, tc.err)
			}
		})
	}
}

func TestOverrideLarge(t *testing.T) {
	for _, tc := range []struct {
		price ledger.Money
		limit int64
		want  bool
	}{
		{250, 2000, false}, // no change
		{200, 2000, false}, // 20% off: at the limit
		{199, 2000, true},  // just above
		{251, 2000, true},  // a raise always needs more
		{0, -1, false},     // no limit
	} {
		o := &Override{Price: tc.price, Reason: "x"}
		if got := o.Large(250, tc.limit); got != tc.want {
			t.Errorf("Large(250 -> %v, limit %d) = %v, want %v", tc.price, tc.limit, got, tc.want)
		}
	}
}
