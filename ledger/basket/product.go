package basket

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tillmesh/tillmesh/ledger"
)

// Product is a catalog entry, keyed by SKU: the one product type of the
// till, its UI, the CRDT catalog and HQ. Price is in minor units of
// Currency per Unit (per kilogram for ledger.Kilogram, whose quantities
// are grams); TaxRate is in basis points.
//
// The CBOR keys are the CRDT catalog's stored encoding and the JSON names
// the till API's, HQ's wire and the till's inventory snapshot: neither may
// change (UnmarshalJSON also reads the snapshot's older Go-named form).
// Updated is informational, never used to resolve a conflict.
type Product struct {
	SKU      string         `cbor:"1,keyasint" json:"sku"`
	Name     string         `cbor:"2,keyasint" json:"name"`
	Barcodes []string       `cbor:"3,keyasint,omitempty" json:"barcodes"`
	Price    ledger.Money   `cbor:"4,keyasint" json:"price"`
	Currency string         `cbor:"5,keyasint" json:"currency"` // ISO 4217, e.g. "EUR"
	TaxRate  ledger.TaxRate `cbor:"6,keyasint" json:"tax_rate"`
	Unit     ledger.Unit    `cbor:"7,keyasint" json:"unit"` // ledger.Each or ledger.Kilogram
	// Updated is when the product was last edited, in Unix
	// milliseconds, supplied by the caller.
	Updated int64 `cbor:"8,keyasint" json:"updated,omitempty"`
	// Reorder is the reorder point in stock units (pieces, or grams for
	// ledger.Kilogram); 0 means none.
	Reorder int64 `cbor:"9,keyasint,omitempty" json:"reorder,omitempty"`
	// Cost is the cost price in minor units per unit (per kg for
	// ledger.Kilogram, like Price); 0 means none known. Only a release
	// that knows ledger.FeatureCostPrice writes it: an older one drops
	// it when it edits the product (node's kind gate).
	Cost ledger.Money `cbor:"10,keyasint,omitempty" json:"cost,omitempty"`
}

// UnmarshalJSON reads a product in its JSON form, and in the form the
// till's inventory snapshot wrote before Product had JSON names (Go field
// names: "SKU", "TaxRate", ...). Only TaxRate needs help: JSON matches
// the other names case-insensitively.
func (p *Product) UnmarshalJSON(b []byte) error {
	type plain Product
	var v struct {
		plain
		GoTaxRate *ledger.TaxRate `json:"TaxRate"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = Product(v.plain)
	if v.GoTaxRate != nil && p.TaxRate == 0 {
		p.TaxRate = *v.GoTaxRate
	}
	return nil
}

// Limits on a product beyond the ledger's.
const (
	MaxIDLen      = 128 // an SKU is also a CRDT key segment
	MaxNameLen    = 200
	MaxBarcodes   = 16
	MaxBarcodeLen = 64
)

// Validate checks the rules every stored product keeps: an SKU that can
// be a key, a printable name, at most MaxBarcodes distinct printable
// barcodes, a price in 0..ledger.MaxPrice, an ISO 4217 currency, a tax
// rate in 0..100%, a known unit, a reorder point not below zero and a
// cost price in 0..ledger.MaxPrice. It
// does not check barcode check digits: see Check.
func (p Product) Validate() error {
	if err := ValidID(p.SKU); err != nil {
		return invalid("product sku: %v", err)
	}
	if err := ValidText("product "+p.SKU+" name", p.Name, MaxNameLen, true); err != nil {
		return err
	}
	if len(p.Barcodes) > MaxBarcodes {
		return invalid("product %s: %d barcodes, at most %d", p.SKU, len(p.Barcodes), MaxBarcodes)
	}
	for i, b := range p.Barcodes {
		if b == "" || len(b) > MaxBarcodeLen {
			return invalid("product %s: barcode %d: length %d not in 1..%d", p.SKU, i, len(b), MaxBarcodeLen)
		}
		for j := 0; j < len(b); j++ {
			if b[j] < 0x21 || b[j] > 0x7e {
				return invalid("product %s: barcode %q: byte %#x not printable ASCII", p.SKU, b, b[j])
			}
		}
		for _, o := range p.Barcodes[:i] {
			if o == b {
				return invalid("product %s: barcode %q listed twice", p.SKU, b)
			}
		}
	}
	switch {
	case p.Price < 0 || p.Price > ledger.MaxPrice:
		return invalid("product %s: price %d not in 0..%d", p.SKU, p.Price, int64(ledger.MaxPrice))
	case !ValidCurrency(p.Currency):
		return invalid("product %s: currency %q is not an ISO 4217 code", p.SKU, p.Currency)
	case p.TaxRate < 0 || p.TaxRate > ledger.MaxTaxRate:
		return invalid("product %s: tax rate %d basis points not in 0..%d", p.SKU, p.TaxRate, ledger.MaxTaxRate)
	case p.Unit != ledger.Each && p.Unit != ledger.Kilogram:
		return invalid("product %s: unit %q is not %q or %q", p.SKU, p.Unit, ledger.Each, ledger.Kilogram)
	case p.Reorder < 0:
		return invalid("product %s: negative reorder point %d", p.SKU, p.Reorder)
	case p.Cost < 0 || p.Cost > ledger.MaxPrice:
		return invalid("product %s: cost price %d not in 0..%d", p.SKU, p.Cost, int64(ledger.MaxPrice))
	}
	return nil
}

// Check is Validate plus what a new or edited product must also hold:
// the check digit of every GTIN-shaped barcode (CheckBarcode). Stored
// products are read back with Validate only, so a rule added here never
// hides a product already in the catalog.
func (p Product) Check() error {
	if err := p.Validate(); err != nil {
		return err
	}
	for _, b := range p.Barcodes {
		if err := CheckBarcode(b); err != nil {
			return err
		}
	}
	return nil
}

// ValidID reports whether s may be an SKU or any other ID the catalog
// keys by (a staff ID, a setting name): 1-128 characters from
// [A-Za-z0-9._-], starting with a letter or digit, so it is one CRDT key
// segment, never "." or "..".
func ValidID(s string) error {
	if s == "" {
		return invalid("empty id")
	}
	if len(s) > MaxIDLen {
		return invalid("id %.20q...: longer than %d", s, MaxIDLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return invalid("id %q: character %q at %d not allowed", s, c, i)
		}
	}
	return nil
}

// ValidCurrency reports whether c looks like an ISO 4217 code: three
// upper-case letters.
func ValidCurrency(c string) bool {
	return len(c) == 3 && strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == ""
}

// ValidText checks a human-readable text (a name, a reason): valid UTF-8,
// no control characters, at most max bytes, and not blank if required.
func ValidText(what, s string, max int, required bool) error {
	switch {
	case required && strings.TrimSpace(s) == "":
		return invalid("%s: empty", what)
	case len(s) > max:
		return invalid("%s: longer than %d bytes", what, max)
	case !utf8.ValidString(s):
		return invalid("%s: not UTF-8", what)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return invalid("%s: control character %U", what, r)
		}
	}
	return nil
}

// Weighed reports whether the product is sold by weight (quantities in
// grams).
func (p Product) Weighed() bool { return p.Unit == ledger.Kilogram }

// Line is the ledger line that sells qty of p (units, or grams when
// weighed) with a line discount of discount.
func (p Product) Line(qty int64, discount ledger.Money) ledger.Line {
	l := ledger.Line{SKU: p.SKU, Name: p.Name, Qty: qty, UnitPrice: p.Price, Discount: discount, TaxRate: p.TaxRate}
	if p.Weighed() {
		l.Unit = ledger.Kilogram
	}
	return l
}

// CheckQty checks a quantity of p: positive and at most ledger.MaxQty.
func (p Product) CheckQty(q int64) error {
	switch {
	case q <= 0 && p.Weighed():
		return invalid("weight %s kg: must be positive", Grams(q))
	case q <= 0:
		return invalid("quantity %d: must be positive", q)
	case q > ledger.MaxQty:
		return invalid("quantity %d: above %d", q, ledger.MaxQty)
	}
	return nil
}

// Grams formats a weight in grams as kilograms: 1234 -> "1.234".
func Grams(g int64) string {
	sign, u := "", uint64(g)
	if g < 0 {
		sign, u = "-", -u
	}
	return fmt.Sprintf("%s%d.%03d", sign, u/1000, u%1000)
}
