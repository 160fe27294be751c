package basket

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. Errors returned by this package wrap one of them.
var (
	// ErrFormat means a code has the wrong length or a non-digit.
	ErrFormat = errors.New("basket: malformed code")
	// ErrCheckDigit means a check digit does not match the digits.
	ErrCheckDigit = errors.New("basket: wrong check digit")
	// ErrNotVariable means a code is not a variable-measure code of any
	// configured layout.
	ErrNotVariable = errors.New("basket: not a variable-measure code")
	// ErrInvalidLayout means a variable-measure layout is inconsistent.
	ErrInvalidLayout = errors.New("basket: invalid layout")
)

// Symbology is the kind of a scanned code.
type Symbology uint8

const (
	EAN13 Symbology = iota + 1
	EAN8
	UPCA
)

func (s Symbology) String() string {
	switch s {
	case EAN13:
		return "EAN-13"
	case EAN8:
		return "EAN-8"
	case UPCA:
		return "UPC-A"
	}
	return "Symbology(" + strconv.Itoa(int(s)) + ")"
}

// A Code is a scanned code whose check digit has been verified.
type Code struct {
	Symbology Symbology
	// GTIN is the catalogue key: 13 digits for EAN-13 and for UPC-A
	// (which gets a leading 0), 8 digits for EAN-8. It ends with the
	// check digit.
	GTIN string
}

// Parse checks a scanned code by its length: 13 digits are EAN-13, 12 are
// UPC-A and 8 are EAN-8. Anything else, or a wrong check digit, is an
// error.
func Parse(s string) (Code, error) {
	if err := digits(s); err != nil {
		return Code{}, err
	}
	var c Code
	switch len(s) {
	case 13:
		c = Code{Symbology: EAN13, GTIN: s}
	case 12:
		c = Code{Symbology: UPCA, GTIN: "0" + s}
	case 8:
		c = Code{Symbology: EAN8, GTIN: s}
	default:
		return Code{}, fmt.Errorf("code %q: %d digits, want 8, 12 or 13: %w", s, len(s), ErrFormat)
	}
	if err := Verify(s); err != nil {
		return Code{}, err
	}
	return c, nil
}

// Verify checks the last digit of s, a string of digits, as a GS1
// modulo-10 check digit (EAN-13, EAN-8, UPC-A, GTIN-14 alike).
func Verify(s string) error {
	if len(s) < 2 {
		return fmt.Errorf("code %q: too short for a check digit: %w", s, ErrFormat)
	}
	want, err := CheckDigit(s[:len(s)-1])
	if err != nil {
		return err
	}
	if got := s[len(s)-1]; got != want {
		return fmt.Errorf("code %q: check digit %c, want %c: %w", s, got, want, ErrCheckDigit)
	}
	return nil
}

// CheckDigit returns the GS1 modulo-10 check digit, as an ASCII digit, of
// the digits in payload: weights 3 and 1 alternate from the rightmost
// digit, and the check digit brings the sum to a multiple of ten.
func CheckDigit(payload string) (byte, error) {
	if err := digits(payload); err != nil {
		return 0, err
	}
	sum := 0
	for i := range len(payload) {
		d := int(payload[len(payload)-1-i] - '0')
		if i%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10), nil
}

func digits(s string) error {
	if s == "" {
		return fmt.Errorf("empty code: %w", ErrFormat)
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return fmt.Errorf("code %q: non-digit at %d: %w", s, i, ErrFormat)
		}
	}
	return nil
}

// gtinShaped reports whether code is all digits and as long as a GTIN:
// 8 (EAN-8), 12 (UPC-A), 13 (EAN-13) or 14 (GTIN-14).
func gtinShaped(code string) bool {
	switch len(code) {
	case 8, 12, 13, 14:
		return digits(code) == nil
	}
	return false
}

// CheckBarcode checks a barcode as a catalog keeps it or a cashier types
// it: 1..64 printable ASCII characters, and for a GTIN-shaped code (8, 12,
// 13 or 14 digits) a right GS1 check digit. Other codes (internal,
// CODE128) are accepted as they are.
func CheckBarcode(code string) error {
	if code == "" || len(code) > MaxBarcodeLen {
		return ruleErr(ErrFormat, "barcode %q: want 1..%d characters", code, MaxBarcodeLen)
	}
	for i := 0; i < len(code); i++ {
		if c := code[i]; c < 0x21 || c > 0x7e {
			return ruleErr(ErrFormat, "barcode %q: character %q not allowed", code, c)
		}
	}
	if !gtinShaped(code) {
		return nil
	}
	want, _ := CheckDigit(code[:len(code)-1]) // digits: no error
	if got := code[len(code)-1]; got != want {
		return ruleErr(ErrCheckDigit, "barcode %s: wrong check digit %c (want %c): scan again or type it", code, got, want)
	}
	return nil
}

// LookupKeys checks a scanned or typed code (CheckBarcode) and returns
// the catalog keys to look it up under, in order. An EAN-13, EAN-8 or
// UPC-A code is found by its GTIN first (a UPC-A code gains its leading
// 0, so the catalog needs one key per product) and then as typed; any
// other code, GS1 or not, as typed. The till's cart, its catalog screen
// and POST /api/sales all find products this one way.
func LookupKeys(code string) ([]string, error) {
	if err := CheckBarcode(code); err != nil {
		return nil, err
	}
	if c, err := Parse(code); err == nil && c.GTIN != code {
		return []string{c.GTIN, code}, nil
	}
	return []string{code}, nil
}
