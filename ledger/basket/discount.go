package basket

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/tillmesh/tillmesh/ledger"
)

// Discount kinds.
const (
	Percent = "percent" // Value in basis points: 1000 is 10%
	Amount  = "amount"  // Value in minor units
)

// Discount is a line or cart discount as the cashier gave it: a percent
// in basis points or an amount in minor units. The ledger records the
// amount it comes to (ledger.Line.Discount, ledger.Sale.CartDiscount).
type Discount struct {
	Kind  string `json:"kind"` // Percent or Amount
	Value int64  `json:"value"`
	// ApprovedBy is the manager who approved the discount when it is
	// above the store's limit; set by the server, never by a client.
	ApprovedBy string `json:"approved_by,omitempty"`
	// ApprovedFor is what the approver saw (Priced.LineFP or CartFP).
	// Once the basket no longer matches it, the approval is void.
	ApprovedFor string `json:"-"`
}

// Validate checks the discount as given: a known kind, not negative, a
// percent at most 100%. A nil discount is no discount.
func (d *Discount) Validate() error {
	switch {
	case d == nil:
		return nil
	case d.Kind != Percent && d.Kind != Amount:
		return invalid("discount kind %q: want \"percent\" or \"amount\"", d.Kind)
	case d.Value < 0:
		return invalid("discount %d: must not be negative", d.Value)
	case d.Kind == Percent && d.Value > 10000:
		return invalid("discount of %s%%: above 100%%", BP(d.Value))
	}
	return nil
}

// AmountOf is what d takes off base, a percent rounded half up. It may be
// above base for an amount; Price refuses that.
func (d *Discount) AmountOf(base ledger.Money) ledger.Money {
	if d == nil {
		return 0
	}
	if d.Kind == Amount {
		return ledger.Money(d.Value)
	}
	v := new(big.Int).Mul(big.NewInt(int64(base)), big.NewInt(d.Value))
	v.Add(v, big.NewInt(5000))
	v.Quo(v, big.NewInt(10000))
	return ledger.Money(v.Int64()) // <= base for a valid percent
}

func (d *Discount) String() string {
	if d.Kind == Percent {
		return BP(d.Value) + "%"
	}
	return ledger.Money(d.Value).String()
}

// BP formats basis points as a percent: 1250 -> "12.5".
func BP(bp int64) string {
	s := strconv.FormatInt(bp/100, 10)
	if r := bp % 100; r != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%02d", r), "0")
	}
	return s
}

// approved reports whether d carries an approval still bound to fp; an
// approval of something else is dropped.
func (d *Discount) approved(fp string) bool {
	if d == nil || d.ApprovedBy == "" {
		return false
	}
	if d.ApprovedFor != fp {
		d.ApprovedBy, d.ApprovedFor = "", ""
		return false
	}
	return true
}

// above reports whether the discount is above limitBP basis points: a
// percent by itself (10% of 0.49 rounds to 0.05, still 10%), an amount
// against what it applies to. A negative limit is no limit.
func (d *Discount) above(amount, base ledger.Money, limitBP int64) bool {
	if limitBP < 0 || amount == 0 {
		return false
	}
	if d.Kind == Percent {
		return d.Value > limitBP
	}
	return overBP(amount, base, limitBP)
}

// overBP reports whether amount is more than limitBP basis points of base.
func overBP(amount, base ledger.Money, limitBP int64) bool {
	l := new(big.Int).Mul(big.NewInt(int64(amount)), big.NewInt(10000))
	r := new(big.Int).Mul(big.NewInt(int64(base)), big.NewInt(limitBP))
	return l.Cmp(r) > 0
}

// AmountOff is a discount of m minor units, or nil (none) for 0.
func AmountOff(m ledger.Money) *Discount {
	if m == 0 {
		return nil
	}
	return &Discount{Kind: Amount, Value: int64(m)}
}
