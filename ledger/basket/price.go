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
	if len(b.Items) > ledger.MaxLines {
		return Priced{}, invalid("%d lines: at most %d", len(b.Items), ledger.MaxLines)
	}
	s := &ledger.Sale{TaxIncluded: b.TaxIncluded}
	for i, it := range b.Items {
		if s.Currency == "" {
			s.Currency = it.Currency
		} else if it.Currency != s.Currency {
			return Priced{}, invalid("line %d is in %s, the sale in %s", i+1, it.Currency, s.Currency)
		}
		if err := it.CheckQty(it.Qty); err != nil {
			return Priced{}, invalid("line %d: %v", i+1, err)
		}
		if err := it.Discount.Validate(); err != nil {
			return Priced{}, invalid("line %d: %v", i+1, err)
		}
		s.Lines = append(s.Lines, it.Line(it.Qty, 0))
	}
	if err := b.Discount.Validate(); err != nil {
		return Priced{}, err
	}
	t, err := s.Totals()
	if err != nil {
		return Priced{}, invalid("%v", err)
	}
	p := Priced{Sale: s}
	subtotal, lineOff, unapproved, discounts := ledger.Money(0), ledger.Money(0), false, 0
	cart := sha256.New()
	for i, it := range b.Items {
		gross := t.Lines[i].Gross
		amt := it.Discount.AmountOf(gross)
		if amt > gross {
			return Priced{}, invalid("line %d (%s): discount %v is more than the line's %v", i+1, it.Name, amt, gross)
		}
		s.Lines[i].Discount = amt
		subtotal += gross - amt // each gross below MaxPrice*MaxQty/1000: no overflow once Totals passed
		lineOff += amt
		fp := fmt.Sprintf("%s|%d|%d|%d|%d", it.SKU, it.Qty, it.Price, it.TaxRate, amt)
		p.LineFP = append(p.LineFP, fp)
		fmt.Fprintln(cart, fp)
		if it.Discount != nil && amt > 0 {
			discounts++
			if !it.Discount.approved(fp) {
				unapproved = true
				if it.Discount.above(amt, gross, b.LimitBP) {
					p.Over = append(p.Over, fmt.Sprintf("%s off %s", it.Discount, it.Name))
				}
			}
		}
	}
	d := b.Discount
	s.CartDiscount = d.AmountOf(subtotal)
	if s.CartDiscount > subtotal {
		return Priced{}, invalid("cart discount %v is more than the cart's %v", s.CartDiscount, subtotal)
	}
	fmt.Fprintf(cart, "cart|%d", s.CartDiscount)
	p.CartFP = hex.EncodeToString(cart.Sum(nil))
	if d != nil && s.CartDiscount > 0 {
		discounts++
		if !d.approved(p.CartFP) {
			unapproved = true
			if d.above(s.CartDiscount, subtotal, b.LimitBP) {
				p.Over = append(p.Over, fmt.Sprintf("%s off the cart", d))
			}
		}
	}
	off, gross := lineOff+s.CartDiscount, subtotal+lineOff
	if unapproved && len(p.Over) == 0 && b.LimitBP >= 0 && overBP(off-ledger.Money(discounts), gross, b.LimitBP) {
		p.Over = append(p.Over, fmt.Sprintf("%v off %v in all", off, gross))
	}
	if p.Totals, err = s.Totals(); err != nil {
		return Priced{}, invalid("%v", err)
	}
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
	if d != nil && d.ApprovedBy != "" {
		p.Approver = d.ApprovedBy
	}
	return p, nil
}
