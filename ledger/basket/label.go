package basket

import (
	"fmt"

	"github.com/tillmesh/tillmesh/ledger"
)

// LabelApprover is the Override.ApprovedBy of a price read from a
// price-embedded label: the scale that printed it set the price.
const LabelApprover = "label"

// DefaultLayouts are the variable-measure layouts a store starts with:
// prefixes 21-25 carry a price in cents and 26-29 a weight in grams, as
// "2P IIIII VVVVV C"; UPC-A number system 2 ("02") carries a 4-digit price
// behind a price check digit. A store sets its own (ui's
// variable_layouts setting).
func DefaultLayouts() []Layout {
	return []Layout{
		{Prefixes: []string{"21", "22", "23", "24", "25"}, ItemDigits: 5, ValueDigits: 5, Measure: ByPrice},
		{Prefixes: []string{"26", "27", "28", "29"}, ItemDigits: 5, ValueDigits: 5, Measure: ByWeight},
		{Prefixes: []string{"02"}, ItemDigits: 5, PriceCheck: true, ValueDigits: 4, Measure: ByPrice},
	}
}

// ItemKeys are the barcodes under which a catalog lists the product of a
// variable-measure code: the code with its value zeroed (and its check
// digit made again), then prefix and item code alone ("2812345").
func (v Variable) ItemKeys() []string {
	payload := v.Prefix + v.Item
	for len(payload) < 12 {
		payload += "0"
	}
	keys := []string{}
	if c, err := CheckDigit(payload); err == nil {
		keys = append(keys, payload+string(c))
	}
	return append(keys, v.Prefix+v.Item)
}

// LabelItem is the basket item a variable-measure label stands for,
// given its product p:
//   - a weight label: p must be sold by weight; the quantity is the weight
//     in grams at p's price per kilogram;
//   - a price label for a product sold by the piece: one piece at the
//     label's price;
//   - a price label for a product sold by weight: the weight that price
//     buys at p's price per kilogram, rounded to the gram, with the unit
//     price adjusted (if need be) so the line comes to the label's price
//     to the cent.
//
// A price that differs from p's is an Override by LabelApprover, so the
// list price is kept in the sale.
func LabelItem(v Variable, p Product) (Item, error) {
	switch v.Measure {
	case ByWeight:
		if !p.Weighed() {
			return Item{}, invalid("%s is sold by the piece: a weight label cannot price it", p.Name)
		}
		if v.Value <= 0 {
			return Item{}, invalid("weight label for %s reads %d g: must be positive", p.Name, v.Value)
		}
		return Item{Product: p, Qty: int64(v.Value)}, nil
	case ByPrice:
	default:
		return Item{}, invalid("label measure %v", v.Measure)
	}
	price := ledger.Money(v.Value)
	label := func(u ledger.Money) *Override {
		if u == p.Price {
			return nil
		}
		return &Override{Price: u, Reason: fmt.Sprintf("price label %v", price), ApprovedBy: LabelApprover}
	}
	if !p.Weighed() {
		o := label(price)
		if err := o.Check(p.Price); err != nil {
			return Item{}, fmt.Errorf("price label on %s: %w", p.Name, err)
		}
		return Item{Product: p, Qty: 1, Override: o}, nil
	}
	if p.Price <= 0 || price <= 0 {
		return Item{}, invalid("price label %v for %s at %v/kg: cannot tell the weight", price, p.Name, p.Price)
	}
	grams := max(1, (int64(price)*1000+int64(p.Price)/2)/int64(p.Price))
	base := ledger.Money((int64(price)*1000 + grams/2) / grams)
	for _, u := range []ledger.Money{p.Price, base, base - 1, base + 1} {
		if u < 0 {
			continue
		}
		s := &ledger.Sale{Lines: []ledger.Line{{SKU: p.SKU, Qty: grams, Unit: ledger.Kilogram, UnitPrice: u}}}
		if t, err := s.Totals(); err == nil && t.Lines[0].Gross == price {
			return Item{Product: p, Qty: grams, Override: label(u)}, nil
		}
	}
	return Item{}, invalid("price label %v for %s: no price per kg makes %d g cost it", price, p.Name, grams)
}
