package basket

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
)

func TestProductValidate(t *testing.T) {
	good := Product{SKU: "SKU-1", Name: "Product SKU-1", Barcodes: []string{"4006381333931"}, Price: 199, Currency: "EUR", TaxRate: 2000, Unit: ledger.Each}
	for _, tc := range []struct {
		name string
		mut  func(*Product)
		ok   bool
	}{
		{"good", func(*Product) {}, true},
		{"kg and no barcodes", func(p *Product) { p.Unit, p.Barcodes = ledger.Kilogram, nil }, true},
		{"free", func(p *Product) { p.Price = 0 }, true},
		{"price at the limit", func(p *Product) { p.Price = ledger.MaxPrice }, true},
		{"price above the limit", func(p *Product) { p.Price = ledger.MaxPrice + 1 }, false},
		{"negative reorder", func(p *Product) { p.Reorder = -1 }, false},
		{"empty sku", func(p *Product) { p.SKU = "" }, false},
		{"slash in sku", func(p *Product) { p.SKU = "a/b" }, false},
		{"dotdot sku", func(p *Product) { p.SKU = ".." }, false},
		{"long sku", func(p *Product) { p.SKU = strings.Repeat("x", MaxIDLen+1) }, false},
		{"blank name", func(p *Product) { p.Name = "  " }, false},
		{"control in name", func(p *Product) { p.Name = "a\nb" }, false},
		{"bad utf8 name", func(p *Product) { p.Name = "\xff" }, false},
		{"negative price", func(p *Product) { p.Price = -1 }, false},
		{"lower currency", func(p *Product) { p.Currency = "eur" }, false},
		{"long currency", func(p *Product) { p.Currency = "EURO" }, false},
		{"tax over 100%", func(p *Product) { p.TaxRate = 10001 }, false},
		{"negative tax", func(p *Product) { p.TaxRate = -1 }, false},
		{"unit", func(p *Product) { p.Unit = "l" }, false},
		{"empty barcode", func(p *Product) { p.Barcodes = []string{""} }, false},
		{"space in barcode", func(p *Product) { p.Barcodes = []string{"12 3"} }, false},
		{"duplicate barcode", func(p *Product) { p.Barcodes = []string{"1", "1"} }, false},
		{"too many barcodes", func(p *Product) { p.Barcodes = make([]string, MaxBarcodes+1) }, false},
	} {
		p := good
		p.Barcodes = append([]string(nil), good.Barcodes...)
		tc.mut(&p)
		err := p.Validate()
		if tc.ok && err != nil {
			t.Errorf("%s: Validate() = %v, want nil", tc.name, err)
		}
		if !tc.ok && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate() = %v, want ErrInvalid", tc.name, err)
		}
	}
}

func TestProductCheck(t *testing.T) {
	p := Product{SKU: "a", Name: "A", Price: 1, Currency: "EUR", Unit: ledger.Each}
	for code, ok := range map[string]bool{
		"4006381333931": true, "4006381333932": false, "96385074": true, "96385075": false,
		"036000291452": true, "036000291453": false, "10614141000415": true, "10614141000416": false,
		"ABC-123": true, "12345": true, "1234567890": true,
	} {
		p.Barcodes = []string{code}
		if err := p.Validate(); err != nil {
			t.Errorf("Validate with barcode %q: %v (check digits are Check's)", code, err)
		}
		if err := p.Check(); (err == nil) != ok {
			t.Errorf("Check with barcode %q = %v, want ok=%v", code, err, ok)
		} else if err != nil && !errors.Is(err, ErrCheckDigit) {
			t.Errorf("Check with barcode %q = %v, want ErrCheckDigit", code, err)
		}
	}
}

func TestLookupKeys(t *testing.T) {
	for _, tc := range []struct {
		code string
		want []string
		err  error
	}{
		{"4006381333931", []string{"4006381333931"}, nil},
		{"036000291452", []string{"0036000291452", "036000291452"}, nil},
		{"96385074", []string{"96385074"}, nil},
		{"SHELF-7", []string{"SHELF-7"}, nil},
		{"1234567890", []string{"1234567890"}, nil},
		{"036000291453", nil, ErrCheckDigit},
		{"a b", nil, ErrFormat},
		{"", nil, ErrFormat},
		{strings.Repeat("x", 65), nil, ErrFormat},
	} {
		got, err := LookupKeys(tc.code)
		if !errors.Is(err, tc.err) || strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("LookupKeys(%q) = %v, %v; want %v, %v", tc.code, got, err, tc.want, tc.err)
		}
	}
}

// TestProductJSON: the API's JSON names, and the Go-named form the till's
// inventory snapshot holds from before, both read back whole.
func TestProductJSON(t *testing.T) {
	want := Product{SKU: "10004", Name: "Tea", Barcodes: []string{"4000000100041"}, Price: 1234, Currency: "EUR",
		TaxRate: 700, Unit: ledger.Kilogram, Updated: 1700000000000, Reorder: 500}
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"tax_rate":700`) || !strings.Contains(string(b), `"sku":"10004"`) {
		t.Fatalf("JSON %s: want the API's names", b)
	}
	legacy := `{"SKU":"10004","Name":"Tea","Barcodes":["4000000100041"],"Price":1234,"Currency":"EUR","TaxRate":700,"Unit":"kg","Updated":1700000000000,"Reorder":500}`
	for _, in := range []string{string(b), legacy} {
		var got Product
		if err := json.Unmarshal([]byte(in), &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s reads as %+v, want %+v", in, got, want)
		}
	}
}
