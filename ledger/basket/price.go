package basket

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/tillmesh/tillmesh/ledger"
)

// Item is a product in a basket: a quantity (units, or grams when the
// product is weighed) and an optional line discount.
type Item struct {
	Product
	Qty      int64
	Discount *Discount
	Override *Override // replaces Product.Price on this line (override.go)
}

// Basket is what a customer is buying. LimitBP is the store's discount
// limit in basis points of what a discount applies to; a negative limit
// is no limit.
type Basket struct {
	Items       []Item
	Discount    *Discount // on the whole basket, after line discounts
	TaxIncluded bool      // prices include tax (the tills' catalogs do)
	LimitBP     int64
}

// Priced is a basket priced by the ledger's rules: the sale it makes
// (without tenders yet) and its totals.
type Priced struct {
	Sale   *ledger.Sale
	Totals ledger.Totals
	// Units counts items: whole units, and one per weighed line.
	Units int64
	// Over lists the discounts above the limit that nobody approved, for
	// the approver to read.
	Over []string
	// LineFP and CartFP are what an approval of each line's discount and
	// of the basket discount is bound to (Discount.ApprovedFor): the
	// line (SKU, quantity, price, rate, amount), and every line with the
	// basket discount.
	LineFP []string
	CartFP string
	// Approver is who approved a discount in the basket, if anyone.
	Approver string
}

// Price prices b. A discount whose approval no longer matches what it
// was given for loses it (Discount.ApprovedBy is cleared in place).
// Discounts each within the limit may stack above it (10% off a line and
// 10% off the basket is 19% off): the sum is checked too, with a minor
// unit of rounding allowed per discount.
func Price(b Basket) (Priced, error) {
	s, gross, err := b.lines()
	if err != nil {
		return Priced{}, err
	}
	p := Priced{Sale: s}
	var lim limit
	cart := sha256.New()
	subtotal, lineOff := ledger.Money(0), ledger.Money(0)
	for i, it := range b.Items {
		amt, err := p.lineDiscount(i, it, gross[i], b.LimitBP, &lim)
		if err != nil {
			return Priced{}, err
		}
		subtotal += gross[i] - amt // each gross below MaxPrice*MaxQty/1000: no overflow once Totals passed
		lineOff += amt
		fmt.Fprintln(cart, p.LineFP[i])
	}
	d := b.Discount
	s.CartDiscount = d.AmountOf(subtotal)
	if s.CartDiscount > subtotal {
		return Priced{}, invalid("cart discount %v is more than the cart's %v", s.CartDiscount, subtotal)
	}
	fmt.Fprintf(cart, "cart|%d", s.CartDiscount)
	p.CartFP = hex.EncodeToString(cart.Sum(nil))
	if d != nil && s.CartDiscount > 0 {
		lim.discounts++
		if !d.approved(p.CartFP) {
			lim.unapproved = true
			if d.above(s.CartDiscount, subtotal, b.LimitBP) {
				p.Over = append(p.Over, fmt.Sprintf("%s off the cart", d))
			}
		}
	}
	off, all := lineOff+s.CartDiscount, subtotal+lineOff
	if lim.unapproved && len(p.Over) == 0 && b.LimitBP >= 0 && overBP(off-ledger.Money(lim.discounts), all, b.LimitBP) {
		p.Over = append(p.Over, fmt.Sprintf("%v off %v in all", off, all))
	}
	if p.Totals, err = s.Totals(); err != nil {
		return Priced{}, invalid("%v", err)
	}
	p.count(b)
	return p, nil
}

// limit is what the stacked-discount check needs to know.
type limit struct {
	unapproved bool // a discount without a valid approval
	discounts  int  // how many discounts take something off
}

// lines makes the sale's lines without discounts and returns each line's
// gross amount.
func (b Basket) lines() (*ledger.Sale, []ledger.Money, error) {
	if len(b.Items) > ledger.MaxLines {
		return nil, nil, invalid("%d lines: at most %d", len(b.Items), ledger.MaxLines)
	}
	s := &ledger.Sale{TaxIncluded: b.TaxIncluded}
	for i, it := range b.Items {
		if s.Currency == "" {
			s.Currency = it.Currency
		} else if it.Currency != s.Currency {
			return nil, nil, invalid("line %d is in %s, the sale in %s", i+1, it.Currency, s.Currency)
		}
		if err := it.CheckQty(it.Qty); err != nil {
			return nil, nil, invalid("line %d: %v", i+1, err)
		}
		if err := it.Discount.Validate(); err != nil {
			return nil, nil, invalid("line %d: %v", i+1, err)
		}
		l := it.Line(it.Qty, 0)
		if o := it.Override; o != nil {
			if err := o.Check(it.Price); err != nil {
				return nil, nil, invalid("line %d (%s): %v", i+1, it.Name, err)
			}
			if o.ApprovedBy == "" {
				return nil, nil, invalid("line %d (%s): a price override nobody approved", i+1, it.Name)
			}
			l.ListPrice, l.UnitPrice, l.OverrideReason, l.OverrideBy = it.Price, o.Price, o.Reason, o.ApprovedBy
		}
		s.Lines = append(s.Lines, l)
	}
	if err := b.Discount.Validate(); err != nil {
		return nil, nil, err
	}
	t, err := s.Totals()
	if err != nil {
		return nil, nil, invalid("%v", err)
	}
	gross := make([]ledger.Money, len(t.Lines))
	for i, l := range t.Lines {
		gross[i] = l.Gross
	}
	return s, gross, nil
}

// lineDiscount applies item i's discount to its line of gross, records
// what an approval of it is bound to, and lists it in Over when it is
// above the limit without one.
func (p *Priced) lineDiscount(i int, it Item, gross ledger.Money, limitBP int64, lim *limit) (ledger.Money, error) {
	amt := it.Discount.AmountOf(gross)
	if amt > gross {
		return 0, invalid("line %d (%s): discount %v is more than the line's %v", i+1, it.Name, amt, gross)
	}
	p.Sale.Lines[i].Discount = amt
	fp := fmt.Sprintf("%s|%d|%d|%d|%d", it.SKU, it.Qty, p.Sale.Lines[i].UnitPrice, it.TaxRate, amt)
	p.LineFP = append(p.LineFP, fp)
	if it.Discount != nil && amt > 0 {
		lim.discounts++
		if !it.Discount.approved(fp) {
			lim.unapproved = true
			if it.Discount.above(amt, gross, limitBP) {
				p.Over = append(p.Over, fmt.Sprintf("%s off %s", it.Discount, it.Name))
			}
		}
	}
	return amt, nil
}

// count sets Units and Approver.
func (p *Priced) count(b Basket) {
	for _, it := range b.Items {
		if it.Weighed() {
			p.Units++
		} else {
			p.Units += it.Qty
		}
		if it.Discount != nil && it.Discount.ApprovedBy != "" {
			p.Approver = it.Discount.ApprovedBy
		}
	}
	if b.Discount != nil && b.Discount.ApprovedBy != "" {
		p.Approver = b.Discount.ApprovedBy
	}
}
