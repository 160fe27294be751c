package basket

import "github.com/tillmesh/tillmesh/ledger"

// Margin is the cost of goods sold and the margin over a set of sales,
// refunds, returns and voids, from the catalog's cost prices
// (Product.Cost). Sales count net of tax, refunds take their net and
// cost back. A line whose product has no cost (or is no longer in the
// catalog) counts in Net and Uncosted only.
//
// The cost used is the product's cost when the report is made, not the
// cost when the line was sold: the ledger records no cost, so a changed
// cost reprices the past.
type Margin struct {
	Net      ledger.Money `json:"net"`      // every line's net of tax
	Costed   ledger.Money `json:"costed"`   // the net of the lines with a cost
	Cost     ledger.Money `json:"cost"`     // their cost of goods sold
	Margin   ledger.Money `json:"margin"`   // Costed - Cost
	Uncosted ledger.Money `json:"uncosted"` // the net of the lines without a cost
}

// CostOf is the cost of qty (pieces, or grams for ledger.Kilogram) at
// cost per piece or per kg, rounded half away from zero like a price.
func CostOf(unit ledger.Unit, qty int64, cost ledger.Money) ledger.Money {
	if unit != ledger.Kilogram {
		return cost * ledger.Money(qty)
	}
	v := int64(cost) * qty
	if v < 0 {
		return -ledger.Money((-v + 500) / 1000)
	}
	return ledger.Money((v + 500) / 1000)
}

// Add counts units (stock units; negative when given back) of a product
// sold for net, at p's cost; p nil is a product the catalog lacks.
func (m *Margin) Add(p *Product, units int64, net ledger.Money) {
	m.Net += net
	if p == nil || p.Cost == 0 {
		m.Uncosted += net
		return
	}
	m.Costed += net
	c := CostOf(p.Unit, units, p.Cost)
	m.Cost += c
	m.Margin += net - c
}

// Merge adds o to m.
func (m *Margin) Merge(o Margin) {
	m.Net += o.Net
	m.Costed += o.Costed
	m.Cost += o.Cost
	m.Margin += o.Margin
	m.Uncosted += o.Uncosted
}

// NetLines calls f for every line ev sells or takes back: its SKU, its
// stock units (pieces or grams; negative for what comes back) and its
// net of tax (negative likewise). sale finds the sale a void cancels.
func NetLines(ev *ledger.Event, sale func(ledger.EventID) (*ledger.Sale, bool), f func(sku string, units int64, net ledger.Money)) {
	switch b := ev.Body.(type) {
	case *ledger.Sale:
		SaleNetLines(b, 1, f)
	case *ledger.Return:
		t, err := b.Totals()
		if err != nil {
			return
		}
		for i, l := range b.Lines {
			f(l.SKU, -l.Qty, -t.Lines[i].Net)
		}
	case *ledger.Refund:
		for _, l := range b.Lines {
			f(l.SKU, -l.Qty, -(l.Amount - l.Tax))
		}
	case *ledger.Void:
		if s, ok := sale(b.Sale); ok {
			SaleNetLines(s, -1, f)
		}
	}
}

// SaleNetLines calls f for every line of s, its units and net times sign.
func SaleNetLines(s *ledger.Sale, sign int64, f func(sku string, units int64, net ledger.Money)) {
	t, err := s.Totals()
	if err != nil {
		return
	}
	for i, l := range s.Lines {
		f(l.SKU, sign*l.Qty, ledger.Money(sign)*t.Lines[i].Net)
	}
}
