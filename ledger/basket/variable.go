package basket

import (
	"fmt"
	"strconv"
)

// Measure is what the value of a variable-measure code is.
type Measure uint8

const (
	// ByPrice: the value is an amount in minor units (cents).
	ByPrice Measure = iota
	// ByWeight: the value is a weight in the layout's unit, usually grams.
	ByWeight
)

// MarshalText writes "price" or "weight".
func (m Measure) MarshalText() ([]byte, error) {
	if m > ByWeight {
		return nil, fmt.Errorf("measure %d: %w", m, ErrInvalidLayout)
	}
	return []byte(m.String()), nil
}

// UnmarshalText reads "price" or "weight".
func (m *Measure) UnmarshalText(b []byte) error {
	switch string(b) {
	case "price":
		*m = ByPrice
	case "weight":
		*m = ByWeight
	default:
		return fmt.Errorf("measure %q: want price or weight: %w", b, ErrInvalidLayout)
	}
	return nil
}

func (m Measure) String() string {
	switch m {
	case ByPrice:
		return "price"
	case ByWeight:
		return "weight"
	}
	return "Measure(" + strconv.Itoa(int(m)) + ")"
}

// A Layout says how a store reads the variable-measure codes with some
// prefixes. In the 13-digit GTIN such a code is: the 2-digit prefix, the
// item code, a price check digit if PriceCheck, the value, and the EAN
// check digit; ItemDigits, the price check digit and ValueDigits add up
// to 10. A UPC-A code of number system 2 has prefix "02".
//
// For example "21 IIIII VVVVV C" is {Prefixes: {"21"}, ItemDigits: 5,
// ValueDigits: 5}, and "02 IIIII P VVVV C" is {Prefixes: {"02"},
// ItemDigits: 5, PriceCheck: true, ValueDigits: 4}.
type Layout struct {
	Prefixes    []string `json:"prefixes"` // "20" to "29", or "02"
	ItemDigits  int      `json:"item_digits"`
	PriceCheck  bool     `json:"price_check,omitempty"` // a price check digit precedes the value
	ValueDigits int      `json:"value_digits"`          // 4 or 5 with a price check digit
	Measure     Measure  `json:"measure"`
}

// Validate reports whether the layout's parts fill a 13-digit code.
func (l Layout) Validate() error {
	if len(l.Prefixes) == 0 {
		return fmt.Errorf("layout has no prefix: %w", ErrInvalidLayout)
	}
	for _, p := range l.Prefixes {
		if !variablePrefix(p) {
			return fmt.Errorf("layout prefix %q is not 02 or 20..29: %w", p, ErrInvalidLayout)
		}
	}
	check := 0
	if l.PriceCheck {
		check = 1
		if l.ValueDigits != 4 && l.ValueDigits != 5 {
			return fmt.Errorf("layout has a price check digit over %d value digits, want 4 or 5: %w", l.ValueDigits, ErrInvalidLayout)
		}
	}
	if l.ItemDigits < 1 || l.ValueDigits < 1 || l.ValueDigits > 9 || l.ItemDigits+check+l.ValueDigits != 10 {
		return fmt.Errorf("layout of %d item digits, %d check digits and %d value digits does not fill 10 digits: %w",
			l.ItemDigits, check, l.ValueDigits, ErrInvalidLayout)
	}
	if l.Measure > ByWeight {
		return fmt.Errorf("layout measure %d: %w", l.Measure, ErrInvalidLayout)
	}
	return nil
}

func variablePrefix(p string) bool {
	return p == "02" || len(p) == 2 && p[0] == '2' && p[1] >= '0' && p[1] <= '9'
}

// A Variable is a decoded variable-measure code.
type Variable struct {
	Prefix  string
	Item    string // the item code, as digits
	Value   int    // price in minor units or weight, per Measure
	Measure Measure
}

// DecodeVariable reads c with the first layout that lists its prefix. It
// returns [ErrNotVariable] if none does, and [ErrCheckDigit] if the price
// check digit is wrong.
func DecodeVariable(c Code, layouts []Layout) (Variable, error) {
	g := c.GTIN
	if len(g) != 13 {
		return Variable{}, fmt.Errorf("code %q: %w", g, ErrNotVariable)
	}
	if err := Verify(g); err != nil {
		return Variable{}, err
	}
	for _, l := range layouts {
		for _, p := range l.Prefixes {
			if p == g[:2] {
				return l.decode(g)
			}
		}
	}
	return Variable{}, fmt.Errorf("code %q: prefix %s: %w", g, g[:2], ErrNotVariable)
}

func (l Layout) decode(g string) (Variable, error) {
	if err := l.Validate(); err != nil {
		return Variable{}, err
	}
	i := 2
	item := g[i : i+l.ItemDigits]
	i += l.ItemDigits
	var check byte
	if l.PriceCheck {
		check = g[i]
		i++
	}
	digits := g[i : i+l.ValueDigits]
	if l.PriceCheck {
		want, err := PriceCheckDigit(digits)
		if err != nil {
			return Variable{}, err
		}
		if check != want {
			return Variable{}, fmt.Errorf("code %q: price check digit %c, want %c: %w", g, check, want, ErrCheckDigit)
		}
	}
	v, err := strconv.Atoi(digits)
	if err != nil {
		return Variable{}, fmt.Errorf("code %q: value %q: %w", g, digits, ErrFormat)
	}
	return Variable{Prefix: g[:2], Item: item, Value: v, Measure: l.Measure}, nil
}

// PriceCheckDigit returns the GS1 check digit, as an ASCII digit, of a
// 4-digit or 5-digit price or weight field.
//
// Each digit is mapped by a weighting factor. "2-" doubles it and
// subtracts the tens digit of the product, "3" triples it, "5+"
// quintuples it and adds the tens digit, "5-" quintuples it and subtracts
// the tens digit; only the units digit of each result is kept.
//
// For 4 digits the factors are 2-, 2-, 3, 5- and the check digit is the
// units digit of three times the sum: 2875 -> 9. For 5 digits the factors
// are 5+, 2-, 5-, 5+, 2-; the check digit is the digit whose "5-" result
// equals ten minus the units digit of the sum (mod 10): 14685 -> 6.
func PriceCheckDigit(value string) (byte, error) {
	if err := digits(value); err != nil {
		return 0, err
	}
	d := func(i int) int { return int(value[i] - '0') }
	switch len(value) {
	case 4:
		sum := weight2m(d(0)) + weight2m(d(1)) + weight3(d(2)) + weight5m(d(3))
		return byte('0' + sum*3%10), nil
	case 5:
		sum := weight5p(d(0)) + weight2m(d(1)) + weight5m(d(2)) + weight5p(d(3)) + weight2m(d(4))
		target := (10 - sum%10) % 10
		for c := range 10 {
			if weight5m(c) == target {
				return byte('0' + c), nil
			}
		}
		panic("basket: weight 5- is not a permutation of the digits") // unreachable
	}
	return 0, fmt.Errorf("price field %q: %d digits, want 4 or 5: %w", value, len(value), ErrFormat)
}

func weight2m(d int) int { p := 2 * d; return (p - p/10) % 10 }
func weight3(d int) int  { return 3 * d % 10 }
func weight5p(d int) int { p := 5 * d; return (p + p/10) % 10 }
func weight5m(d int) int { p := 5 * d; return (p - p/10) % 10 }
