package escpos

import (
	"fmt"
	"strconv"

	"github.com/tillmesh/tillmesh/ledger/basket"
)

// Symbology is a barcode type of GS k.
type Symbology uint8

// Symbologies, in the order of GS k's m: format A is m = 0..6 for UPCA to
// Codabar, format B is m = 65..79 for UPCA to Code128Auto.
const (
	UPCA Symbology = iota + 1
	UPCE
	EAN13
	EAN8
	Code39
	ITF
	Codabar
	Code93
	Code128
	GS1128
	DataBarOmni
	DataBarTruncated
	DataBarLimited
	DataBarExpanded
	Code128Auto
	maxSymbology = Code128Auto
)

func (s Symbology) String() string {
	switch s {
	case UPCA:
		return "UPC-A"
	case UPCE:
		return "UPC-E"
	case EAN13:
		return "EAN-13"
	case EAN8:
		return "EAN-8"
	case Code39:
		return "CODE39"
	case ITF:
		return "ITF"
	case Codabar:
		return "CODABAR"
	case Code93:
		return "CODE93"
	case Code128:
		return "CODE128"
	case GS1128:
		return "GS1-128"
	case DataBarOmni:
		return "GS1-DATABAR-OMNI"
	case DataBarTruncated:
		return "GS1-DATABAR-TRUNCATED"
	case DataBarLimited:
		return "GS1-DATABAR-LIMITED"
	case DataBarExpanded:
		return "GS1-DATABAR-EXPANDED"
	case Code128Auto:
		return "CODE128-AUTO"
	}
	return "Symbology(" + strconv.Itoa(int(s)) + ")"
}

// HRI is where the human-readable digits of a barcode are printed.
type HRI uint8

const (
	HRINone HRI = iota
	HRIAbove
	HRIBelow
	HRIBoth
)

func (h HRI) String() string {
	switch h {
	case HRINone:
		return "none"
	case HRIAbove:
		return "above"
	case HRIBelow:
		return "below"
	case HRIBoth:
		return "both"
	}
	return "HRI(" + strconv.Itoa(int(h)) + ")"
}

// SetBarcodeHeight sets the height of the barcodes that follow (GS h n),
// 1 to 255 dots.
func (b *Builder) SetBarcodeHeight(dots int) error {
	if dots < 1 || dots > 255 {
		return invalidf("barcode height %d outside 1..255", dots)
	}
	b.buf = append(b.buf, gs, 'h', byte(dots))
	return nil
}

// SetBarcodeWidth sets the module width of the barcodes that follow
// (GS w n), 2 to 6 dots.
func (b *Builder) SetBarcodeWidth(dots int) error {
	if dots < 2 || dots > 6 {
		return invalidf("barcode module width %d outside 2..6", dots)
	}
	b.buf = append(b.buf, gs, 'w', byte(dots))
	return nil
}

// SetHRI sets where barcodes that follow print their digits (GS H n).
func (b *Builder) SetHRI(pos HRI) error {
	if pos > HRIBoth {
		return invalidf("hri position %d", pos)
	}
	b.buf = append(b.buf, gs, 'H', byte(pos))
	return nil
}

// EAN13 prints an EAN-13 barcode (GS k 67 12 d1..d12). code is 12 digits,
// or 13 digits whose last is the check digit, which is verified. The
// printer computes the check digit from the 12 digits it is sent.
func (b *Builder) EAN13(code string) error {
	payload, err := eanPayload(code, 12)
	if err != nil {
		return err
	}
	b.buf = append(b.buf, gs, 'k', 67, 12)
	b.buf = append(b.buf, payload...)
	return nil
}

// Code128 prints data as a CODE128 barcode in code set B
// (GS k 73 n {B data). data must be printable ASCII; '{' is sent as "{{".
// At most 253 bytes go after the code set selection.
func (b *Builder) Code128(data string) error {
	if data == "" {
		return invalidf("code128: empty data")
	}
	esc := make([]byte, 0, 2+len(data))
	esc = append(esc, '{', 'B')
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c < 0x20 || c > 0x7e {
			return invalidf("code128: byte 0x%02x at %d is not printable ascii", c, i)
		}
		if c == '{' {
			esc = append(esc, '{')
		}
		esc = append(esc, c)
	}
	if len(esc) > 255 {
		return invalidf("code128: %d bytes after escaping, over 255", len(esc))
	}
	b.buf = append(b.buf, gs, 'k', 73, byte(len(esc)))
	b.buf = append(b.buf, esc...)
	return nil
}

// eanPayload checks that code is n digits, or n+1 digits with a correct
// check digit, and returns the first n digits.
func eanPayload(code string, n int) (string, error) {
	if len(code) != n && len(code) != n+1 {
		return "", invalidf("barcode %q: want %d or %d digits", code, n, n+1)
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return "", invalidf("barcode %q: non-digit at %d", code, i)
		}
	}
	if len(code) == n+1 {
		if want := checkDigit(code[:n]); code[n] != want {
			return "", fmt.Errorf("barcode %q: check digit %c, want %c: %w", code, code[n], want, ErrCheckDigit)
		}
	}
	return code[:n], nil
}

// checkDigit is ledger/basket's GS1 check digit of a payload already
// known to be digits.
func checkDigit(payload string) byte {
	d, _ := basket.CheckDigit(payload)
	return d
}
