package ledger

// Cash rounding. Where the smallest coin (or note) in use is larger than
// the currency's minor unit (no 1 and 2 cent coins, so'm paid in
// hundreds), the cash a customer pays or gets back is rounded to the
// nearest step, half away from zero, and the difference is a line of its
// own, never a discount and never taxed:
//
//	total 12,345 so'm, step 100, paid in cash: due 12,300, rounding -45
//	total 12,350 so'm, step 100:                due 12,400, rounding +50
//	total 7.23 CHF, step 0.05:                  due 7.25,   rounding +0.02
//	card 5,000 and cash for the rest of 12,345: cash due 7,345 -> 7,300
//
// Only the cash part rounds: a sale's cash due is its total less what the
// other tenders paid, rounded when a cash tender pays it. A refund paid
// back in cash rounds what it gives back. The body records the step and
// the rounding (Sale.RoundStep, Sale.Rounding; the same on Refund and
// Void), and the ledger checks that the rounding is exactly the one the
// step gives. Releases before these fields refuse such a sale (its
// tenders do not match its total), so a till writes a rounding only once
// every till of the store knows FeatureCashRounding (node's kind gate).
//
// Reports (Report.Rounding) sum the rounding the store took: a sale's
// rounding, less the rounding of what refunds and voids gave back. So
// tenders taken less tenders given back equal Total plus Rounding, and
// the drawer's expected cash counts the cash that actually changed hands.

// FeatureCashRounding is announced through the kind gate like a kind,
// but no event has it: it stands for "reads Rounding and RoundStep in
// sales, refunds and voids".
const FeatureCashRounding Kind = "cash_rounding"

// FeatureCostPrice stands for "keeps a catalog product's cost price
// (basket.Product.Cost) when it edits the product". A release before it
// decodes the field but writes the product back without it, so a till
// sets a cost only once every till of the store announces this.
const FeatureCostPrice Kind = "cost_price"

// FeatureSealedCustomers stands for "reads customer slots whose fields
// are sealed under a customer key" (crdt/customer_seal.go). A release
// before it ignores such a slot, so a till seals a customer's fields
// only once every till of the store announces this.
const FeatureSealedCustomers Kind = "sealed_customers"

// Features are the gated capabilities that are not kinds of event. A
// till announces them beside Kinds.
var Features = []Kind{FeatureCashRounding, FeatureCostPrice, FeatureSealedCustomers}

// MaxRoundStep bounds a cash rounding step: far above any coin.
const MaxRoundStep = 1_000_000

// RoundCash rounds amount to the nearest multiple of step, half away
// from zero (so a refund rounds like a sale). A step of 0 or 1 leaves it
// as it is.
func RoundCash(amount, step Money) Money {
	if step <= 1 {
		return amount
	}
	neg := amount < 0
	a := amount
	if neg {
		a = -a
	}
	r := a % step
	a -= r
	if 2*r >= step {
		a += step
	}
	if neg {
		return -a
	}
	return a
}

// CashRounding is the rounding of a cash payment of due with step: what
// the customer pays less what was due.
func CashRounding(due, step Money) Money { return RoundCash(due, step) - due }

// checkRounding checks a body's step and rounding: the rounding is
// exactly what the step makes of the cash part due, and zero when no
// cash tender pays it.
func checkRounding(step, rounding, cashDue Money, cashTender bool) error {
	switch {
	case step < 0 || step > MaxRoundStep:
		return invalid("cash rounding step %d outside 0..%d", step, MaxRoundStep)
	case step <= 1 && rounding != 0:
		return invalid("cash rounding %v without a step", rounding)
	case !cashTender && rounding != 0:
		return invalid("cash rounding %v without a cash tender", rounding)
	case cashTender && cashDue > 0 && rounding != CashRounding(cashDue, step):
		return invalid("cash rounding %v of %v in steps of %v, want %v", rounding, cashDue, step, CashRounding(cashDue, step))
	case cashDue <= 0 && rounding != 0:
		return invalid("cash rounding %v with no cash due", rounding)
	}
	return nil
}

// Due is what the customer pays for the sale: its total plus the cash
// rounding.
func (s *Sale) Due(total Money) Money { return total + s.Rounding }

// saleCashDue is the part of total the sale's non-cash tenders leave to
// cash, and whether a cash tender pays it.
func saleCashDue(total Money, ts []Tender) (Money, bool) {
	var other Money
	cash := false
	for _, t := range ts {
		if t.Kind == Cash {
			cash = true
			continue
		}
		other += t.Amount
	}
	return total - other, cash
}

// Rounded reports whether the body carries a cash rounding step, so that
// only a release that knows FeatureCashRounding may write it.
func Rounded(b Body) bool {
	switch b := b.(type) {
	case *Sale:
		return b.RoundStep > 0 || b.Rounding != 0
	case *Refund:
		return b.RoundStep > 0 || b.Rounding != 0
	case *Void:
		return b.Rounding != 0
	}
	return false
}
