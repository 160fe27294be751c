package basket

import (
	"fmt"

	"github.com/tillmesh/tillmesh/ledger"
)

// MaxTender bounds one tender and the change, like a cash movement.
const MaxTender = ledger.MaxPrice

// Change checks the tenders offered for a total and returns the change
// due: at least one and at most ledger.MaxTenders tenders, each of a
// known kind, positive and at most MaxTender; together at least the
// total; change only from cash and at most MaxTender. Change is never
// negative.
func Change(ts []ledger.Tender, total ledger.Money) (ledger.Money, error) {
	if len(ts) == 0 {
		return 0, invalid("no tender: take cash or card")
	}
	if len(ts) > ledger.MaxTenders {
		return 0, invalid("%d tenders: at most %d", len(ts), ledger.MaxTenders)
	}
	var paid, cash ledger.Money
	for i, t := range ts {
		switch {
		case t.Kind != ledger.Cash && t.Kind != ledger.Card && t.Kind != ledger.Other &&
			t.Kind != ledger.GiftCardTender && t.Kind != ledger.StoreCreditTender: // the till gates the card kinds
			return 0, invalid("tender %d: unknown kind %q", i+1, t.Kind)
		case t.Amount <= 0:
			return 0, invalid("tender %d: amount %v: must be positive", i+1, t.Amount)
		case t.Amount > MaxTender:
			return 0, invalid("tender %d: amount %v: above %v", i+1, t.Amount, ledger.Money(MaxTender))
		}
		paid += t.Amount // at most MaxTenders x MaxTender: no overflow
		if t.Kind == ledger.Cash {
			cash += t.Amount
		}
	}
	change := paid - total
	switch {
	case change < 0:
		return 0, fmt.Errorf("%w: tendered %v, total %v", ledger.ErrTendersShort, paid, total)
	case change > cash:
		return 0, invalid("%v paid by card or other for %v: change comes from cash only", paid-cash, total)
	case change > MaxTender:
		return 0, invalid("change of %v: above %v, check the amount tendered", change, ledger.Money(MaxTender))
	}
	return change, nil
}

// Pay is the sale p makes when paid with ts: a copy of p.Sale with the
// tenders and the change. A basket with no lines is not a sale.
func (p Priced) Pay(ts []ledger.Tender) (*ledger.Sale, error) {
	if p.Sale == nil || len(p.Sale.Lines) == 0 {
		return nil, invalid("a sale needs at least one line")
	}
	change, err := Change(ts, p.Totals.Total)
	if err != nil {
		return nil, err
	}
	s := *p.Sale
	s.Lines = append([]ledger.Line(nil), p.Sale.Lines...)
	s.Tenders, s.Change = append([]ledger.Tender(nil), ts...), change
	return &s, nil
}
