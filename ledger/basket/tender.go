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

// Rounding is the cash rounding of paying total with ts when cash is
// rounded to step (ledger.RoundCash): the part of total the other
// tenders leave to cash, rounded, less that part. Zero without a cash
// tender or a step.
func Rounding(ts []ledger.Tender, total, step ledger.Money) ledger.Money {
	if step <= 1 {
		return 0
	}
	due, cash := total, false
	for _, t := range ts {
		if t.Kind == ledger.Cash {
			cash = true
		} else {
			due -= t.Amount
		}
	}
	if !cash || due <= 0 {
		return 0
	}
	return ledger.CashRounding(due, step)
}

// CashChange is Change for a store that rounds cash to step: the tenders
// must cover the total plus the cash rounding. It returns the change and
// the rounding.
func CashChange(ts []ledger.Tender, total, step ledger.Money) (change, rounding ledger.Money, err error) {
	if step < 0 || step > ledger.MaxRoundStep {
		return 0, 0, invalid("cash rounding step %d outside 0..%d", step, ledger.MaxRoundStep)
	}
	rounding = Rounding(ts, total, step)
	change, err = Change(ts, total+rounding)
	return change, rounding, err
}

// Pay is the sale p makes when paid with ts: a copy of p.Sale with the
// tenders and the change. A basket with no lines is not a sale.
func (p Priced) Pay(ts []ledger.Tender) (*ledger.Sale, error) {
	if p.Sale == nil || len(p.Sale.Lines) == 0 {
		return nil, invalid("a sale needs at least one line")
	}
	return p.PayRounded(ts, 0)
}

// PayRounded is Pay in a store that rounds cash to step (0: none): a
// sale paid partly or wholly in cash records the step and its rounding
// (ledger.Sale.RoundStep, Rounding); one paid without cash records
// neither, so only a cash sale needs a release that knows rounding.
func (p Priced) PayRounded(ts []ledger.Tender, step ledger.Money) (*ledger.Sale, error) {
	if p.Sale == nil || len(p.Sale.Lines) == 0 {
		return nil, invalid("a sale needs at least one line")
	}
	change, rounding, err := CashChange(ts, p.Totals.Total, step)
	if err != nil {
		return nil, err
	}
	s := *p.Sale
	s.Lines = append([]ledger.Line(nil), p.Sale.Lines...)
	s.Tenders, s.Change = append([]ledger.Tender(nil), ts...), change
	s.RoundStep, s.Rounding = 0, rounding
	if step > 1 && hasCash(ts) {
		s.RoundStep = step
	}
	return &s, nil
}

func hasCash(ts []ledger.Tender) bool {
	for _, t := range ts {
		if t.Kind == ledger.Cash {
			return true
		}
	}
	return false
}

// MaxSmallest bounds the smallest amount in use (minor units).
const MaxSmallest = ledger.MaxRoundStep

// CheckSmallest refuses a price that is not a whole number of the
// store's smallest amount in use (minor units; 0 or 1: any amount):
// so'm prices in whole hundreds where the store says so. format writes
// amounts in the error as the store's currency reads (nil: minor units).
func CheckSmallest(what string, m, smallest ledger.Money, format func(ledger.Money) string) error {
	if smallest > 1 && m%smallest != 0 {
		if format == nil {
			format = func(v ledger.Money) string { return fmt.Sprint(int64(v)) }
		}
		return invalid("%s %s: not a multiple of %s, the smallest amount in use here", what, format(m), format(smallest))
	}
	return nil
}
