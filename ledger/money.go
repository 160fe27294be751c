package ledger

import (
	"fmt"
	"math"
	"math/bits"
)

// Money is an amount in minor units of a currency (cents, pence, øre).
// It is never a float. The currency travels beside it in the event body.
type Money int64

// String formats m with two decimals, for logs and reports. Currencies with
// other exponents are formatted by the caller.
func (m Money) String() string {
	sign := ""
	u := uint64(m)
	if m < 0 {
		sign = "-"
		u = uint64(-m)
	}
	return fmt.Sprintf("%s%d.%02d", sign, u/100, u%100)
}

// TaxRate is a tax rate in basis points: 2000 is 20%, 825 is 8.25%.
type TaxRate int32

// MaxTaxRate is 100%.
const MaxTaxRate TaxRate = 10000

// String formats r as a percentage, "20%" or "8.25%".
func (r TaxRate) String() string {
	if r%100 == 0 {
		return fmt.Sprintf("%d%%", r/100)
	}
	return fmt.Sprintf("%d.%02d%%", r/100, r%100)
}

// Unit says how a line's quantity is counted.
type Unit string

const (
	// Each counts whole items: Qty 3 is three items.
	Each Unit = "ea"
	// Kilogram counts weighed goods in grams (milli-kilograms): Qty 1234 is
	// 1.234 kg and the unit price is per kilogram.
	Kilogram Unit = "kg"
)

// scale is the number of quantity units per priced unit.
func (u Unit) scale() (int64, bool) {
	switch u {
	case Each, "":
		return 1, true
	case Kilogram:
		return 1000, true
	}
	return 0, false
}

// mulDivRound returns a*b/c rounded half away from zero, computed in 128
// bits so no intermediate product overflows. c must be positive. It fails
// only when the result does not fit in an int64.
func mulDivRound(a, b, c int64) (int64, error) {
	q, r, neg, err := mulDiv(a, b, c)
	if err != nil {
		return 0, err
	}
	if r >= uint64(c)-r { // 2r >= c without overflow: round half away from zero
		q++
	}
	return signed(q, neg)
}

// mulDivFloor returns |a*b| / c truncated and the remainder, for a, b >= 0.
func mulDivFloor(a, b, c int64) (q int64, rem uint64, err error) {
	uq, r, neg, err := mulDiv(a, b, c)
	if err != nil {
		return 0, 0, err
	}
	v, err := signed(uq, neg)
	return v, r, err
}

func mulDiv(a, b, c int64) (q, r uint64, neg bool, err error) {
	if c <= 0 {
		return 0, 0, false, fmt.Errorf("ledger: divide by %d", c)
	}
	neg = (a < 0) != (b < 0)
	hi, lo := bits.Mul64(abs64(a), abs64(b))
	if hi >= uint64(c) {
		return 0, 0, false, ErrOverflow
	}
	q, r = bits.Div64(hi, lo, uint64(c))
	return q, r, neg, nil
}

func signed(q uint64, neg bool) (int64, error) {
	if q > math.MaxInt64 {
		return 0, ErrOverflow
	}
	if neg {
		return -int64(q), nil
	}
	return int64(q), nil
}

func abs64(v int64) uint64 {
	if v < 0 {
		return uint64(-v) // also right for MinInt64: two's complement
	}
	return uint64(v)
}

// add returns a+b or ErrOverflow.
func add(a, b Money) (Money, error) {
	s := a + b
	if (s > a) != (b > 0) {
		return 0, ErrOverflow
	}
	return s, nil
}

// sum adds amounts, failing on overflow.
func sum(ms ...Money) (Money, error) {
	var t Money
	var err error
	for _, m := range ms {
		if t, err = add(t, m); err != nil {
			return 0, err
		}
	}
	return t, nil
}
