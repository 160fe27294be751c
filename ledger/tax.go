package ledger

import (
	"fmt"
	"sort"
)

// LineTotals are the computed amounts of one sale line. Amount is what the
// customer pays for the line: Gross less both discounts, plus Tax when
// prices exclude tax.
type LineTotals struct {
	Gross        Money   // quantity x unit price, rounded
	Discount     Money   // the line's own discount
	CartDiscount Money   // the line's share of the cart discount
	Net          Money   // amount before tax
	Tax          Money   // tax on the line, rounded per line
	Amount       Money   // Net + Tax
	Rate         TaxRate // the line's tax rate
}

// TaxBand is the net and tax of all lines at one rate.
type TaxBand struct {
	_    struct{} `cbor:",toarray"`
	Rate TaxRate
	Net  Money
	Tax  Money
}

// Totals are a sale's computed amounts. Total is what the tenders must
// cover.
type Totals struct {
	Lines     []LineTotals
	Gross     Money // sum of line gross amounts
	Discounts Money // line discounts plus the cart discount
	Net       Money
	Tax       Money
	Total     Money
	Bands     []TaxBand // by rate, ascending
}

// Totals computes the sale's amounts with the rules in the package
// documentation. It fails when a line is malformed (bad unit, discount above
// the line) or an amount overflows.
func (s *Sale) Totals() (Totals, error) {
	t := Totals{Lines: make([]LineTotals, len(s.Lines))}
	afterLine := make([]Money, len(s.Lines))
	var subtotal Money
	for i, l := range s.Lines {
		scale, ok := l.Unit.scale()
		if !ok {
			return Totals{}, fmt.Errorf("line %d: unknown unit %q", i+1, l.Unit)
		}
		g, err := mulDivRound(l.Qty, int64(l.UnitPrice), scale)
		if err != nil {
			return Totals{}, fmt.Errorf("line %d: %w", i+1, err)
		}
		gross := Money(g)
		if l.Discount < 0 || l.Discount > gross {
			return Totals{}, fmt.Errorf("line %d: discount %v outside 0..%v", i+1, l.Discount, gross)
		}
		t.Lines[i] = LineTotals{Gross: gross, Discount: l.Discount, Rate: l.TaxRate}
		afterLine[i] = gross - l.Discount
		if subtotal, err = add(subtotal, afterLine[i]); err != nil {
			return Totals{}, err
		}
	}
	if s.CartDiscount < 0 || s.CartDiscount > subtotal {
		return Totals{}, fmt.Errorf("cart discount %v outside 0..%v", s.CartDiscount, subtotal)
	}
	shares, err := allocate(s.CartDiscount, afterLine)
	if err != nil {
		return Totals{}, err
	}
	bands := map[TaxRate]*TaxBand{}
	for i := range t.Lines {
		lt := &t.Lines[i]
		lt.CartDiscount = shares[i]
		paid := afterLine[i] - shares[i]
		if s.TaxIncluded {
			tax, err := mulDivRound(int64(paid), int64(lt.Rate), int64(MaxTaxRate+lt.Rate))
			if err != nil {
				return Totals{}, err
			}
			lt.Tax, lt.Net, lt.Amount = Money(tax), paid-Money(tax), paid
		} else {
			tax, err := mulDivRound(int64(paid), int64(lt.Rate), int64(MaxTaxRate))
			if err != nil {
				return Totals{}, err
			}
			lt.Tax, lt.Net = Money(tax), paid
			if lt.Amount, err = add(paid, Money(tax)); err != nil {
				return Totals{}, err
			}
		}
		b := bands[lt.Rate]
		if b == nil {
			b = &TaxBand{Rate: lt.Rate}
			bands[lt.Rate] = b
		}
		b.Net += lt.Net
		b.Tax += lt.Tax
		t.Gross += lt.Gross
		t.Discounts += lt.Discount + lt.CartDiscount
		t.Net += lt.Net
		t.Tax += lt.Tax
		if t.Total, err = add(t.Total, lt.Amount); err != nil {
			return Totals{}, err
		}
	}
	for _, b := range bands {
		t.Bands = append(t.Bands, *b)
	}
	sort.Slice(t.Bands, func(i, j int) bool { return t.Bands[i].Rate < t.Bands[j].Rate })
	return t, nil
}

// allocate splits d over the weights in proportion, by the largest
// remainder method: each share is rounded down, and the units left over go
// one each to the largest remainders, earlier lines first on ties. The
// shares sum to d exactly and no share exceeds its weight.
func allocate(d Money, weights []Money) ([]Money, error) {
	shares := make([]Money, len(weights))
	if d == 0 {
		return shares, nil
	}
	var total Money
	for _, w := range weights {
		total += w // bounded: the caller summed them with overflow checks
	}
	rems := make([]uint64, len(weights))
	var given Money
	for i, w := range weights {
		q, r, err := mulDivFloor(int64(d), int64(w), int64(total))
		if err != nil {
			return nil, err
		}
		shares[i], rems[i] = Money(q), r
		given += Money(q)
	}
	order := make([]int, len(weights))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return rems[order[a]] > rems[order[b]] })
	for k := 0; given < d; k++ {
		shares[order[k%len(order)]]++
		given++
	}
	return shares, nil
}

// Prorate returns the part of amount that qty of remaining units carry,
// rounded half away from zero. Refunding every remaining unit returns the
// whole remaining amount, so successive partial refunds never drift.
func Prorate(amount Money, qty, remaining int64) (Money, error) {
	if remaining <= 0 || qty < 0 || qty > remaining {
		return 0, fmt.Errorf("ledger: prorate %d of %d", qty, remaining)
	}
	if qty == remaining {
		return amount, nil
	}
	v, err := mulDivRound(int64(amount), qty, remaining)
	return Money(v), err
}
