package basket

import (
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
)

// Cost of weighed goods is per kg, rounded half away from zero; a line
// without a cost counts as uncosted; what comes back takes its cost back.
func TestMarginByHand(t *testing.T) {
	for _, c := range []struct {
		unit ledger.Unit
		qty  int64
		cost ledger.Money
		want ledger.Money
	}{
		{ledger.Each, 3, 150, 450},
		{ledger.Kilogram, 1250, 12000, 15000}, // 1.25 kg at 120.00/kg
		{ledger.Kilogram, 333, 1001, 333},     // 333.333 -> 333
		{ledger.Kilogram, 500, 1001, 501},     // 500.5 -> 501
		{ledger.Kilogram, -500, 1001, -501},
	} {
		if got := CostOf(c.unit, c.qty, c.cost); got != c.want {
			t.Errorf("CostOf(%s, %d, %d) = %d, want %d", c.unit, c.qty, c.cost, got, c.want)
		}
	}
	apples := &Product{SKU: "apples", Unit: ledger.Kilogram, Cost: 200}
	var m Margin
	m.Add(apples, 1500, 450) // 1.5 kg sold for 4.50 net, cost 3.00
	m.Add(apples, -500, -150)
	m.Add(&Product{SKU: "tea"}, 1, 99)
	m.Add(nil, 1, 1)
	want := Margin{Net: 400, Costed: 300, Cost: 200, Margin: 100, Uncosted: 100}
	if m != want {
		t.Fatalf("margin %+v, want %+v", m, want)
	}
}
