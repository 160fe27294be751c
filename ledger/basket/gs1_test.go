package basket

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Code
		err  error
	}{
		{"4006381333931", Code{EAN13, "4006381333931"}, nil},
		{"5901234123457", Code{EAN13, "5901234123457"}, nil},
		{"0000000000000", Code{EAN13, "0000000000000"}, nil},
		{"96385074", Code{EAN8, "96385074"}, nil},
		{"036000291452", Code{UPCA, "0036000291452"}, nil}, // UPC-A gets a leading 0
		{"4006381333932", Code{}, ErrCheckDigit},
		{"96385075", Code{}, ErrCheckDigit},
		{"036000291453", Code{}, ErrCheckDigit},
		{"400638133393", Code{}, ErrCheckDigit}, // a 12-digit EAN payload reads as a UPC-A with a bad check digit
		{"40063813339", Code{}, ErrFormat},
		{"40063813339311", Code{}, ErrFormat},
		{"", Code{}, ErrFormat},
		{"4006381333 31", Code{}, ErrFormat},
		{"400638133393１", Code{}, ErrFormat}, // fullwidth digit
		{"-96385074", Code{}, ErrFormat},
	}
	for _, tc := range tests {
		got, err := Parse(tc.in)
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("Parse(%q) error %v, want %v", tc.in, err, tc.err)
		}
		if got != tc.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestUPCAMatchesEAN13(t *testing.T) {
	upc, err := Parse("036000291452")
	if err != nil {
		t.Fatal(err)
	}
	ean, err := Parse("0036000291452")
	if err != nil {
		t.Fatal(err)
	}
	if upc.GTIN != ean.GTIN {
		t.Errorf("UPC-A key %s, EAN-13 key %s: one product, two keys", upc.GTIN, ean.GTIN)
	}
}

func TestCheckDigit(t *testing.T) {
	tests := []struct {
		payload string
		want    byte
		err     error
	}{
		{"400638133393", '1', nil},
		{"9638507", '4', nil},
		{"03600029145", '2', nil},
		{"1234567890123", '1', nil}, // GTIN-14 payload 12345678901231
		{"0", '0', nil},
		{"", 0, ErrFormat},
		{"12a", 0, ErrFormat},
	}
	for _, tc := range tests {
		got, err := CheckDigit(tc.payload)
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) || got != tc.want {
			t.Errorf("CheckDigit(%q) = %q, %v; want %q, %v", tc.payload, got, err, tc.want, tc.err)
		}
	}
}

func TestVerifyShort(t *testing.T) {
	if err := Verify("5"); !errors.Is(err, ErrFormat) {
		t.Errorf("Verify(\"5\") = %v, want ErrFormat", err)
	}
}
