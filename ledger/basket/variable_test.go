package basket

import (
	"errors"
	"testing"
)

func TestPriceCheckDigit(t *testing.T) {
	tests := []struct {
		value string
		want  byte
		err   error
	}{
		{"2875", '9', nil},  // HARDWARE.md
		{"14685", '6', nil}, // HARDWARE.md; the popular wrong answer is 7
		{"0000", '0', nil},
		{"00000", '0', nil},
		{"0001", '5', nil},  // 5-(1) = 5, and 3 × 5 = 15
		{"00001", '4', nil}, // 2-(1) = 2, 10 - 2 = 8, and 5-(4) = 8
		{"123", 0, ErrFormat},
		{"123456", 0, ErrFormat},
		{"12a4", 0, ErrFormat},
	}
	for _, tc := range tests {
		got, err := PriceCheckDigit(tc.value)
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) || got != tc.want {
			t.Errorf("PriceCheckDigit(%q) = %q, %v; want %q, %v", tc.value, got, err, tc.want, tc.err)
		}
	}
}

func TestWeightTables(t *testing.T) {
	// The GS1 weighting tables, digit 0 to 9.
	tables := []struct {
		name string
		f    func(int) int
		want [10]int
	}{
		{"2-", weight2m, [10]int{0, 2, 4, 6, 8, 9, 1, 3, 5, 7}},
		{"3", weight3, [10]int{0, 3, 6, 9, 2, 5, 8, 1, 4, 7}},
		{"5+", weight5p, [10]int{0, 5, 1, 6, 2, 7, 3, 8, 4, 9}},
		{"5-", weight5m, [10]int{0, 5, 9, 4, 8, 3, 7, 2, 6, 1}},
	}
	for _, tc := range tables {
		var got [10]int
		for d := range 10 {
			got[d] = tc.f(d)
		}
		if got != tc.want {
			t.Errorf("weight %s = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// ean builds a 13-digit code from 12 digits by adding the check digit.
func ean(t *testing.T, payload string) Code {
	t.Helper()
	c, err := CheckDigit(payload)
	if err != nil {
		t.Fatal(err)
	}
	code, err := Parse(payload + string(c))
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func TestDecodeVariable(t *testing.T) {
	layouts := []Layout{
		{Prefixes: []string{"20", "21", "22"}, ItemDigits: 5, ValueDigits: 5, Measure: ByPrice},
		{Prefixes: []string{"28"}, ItemDigits: 4, PriceCheck: true, ValueDigits: 5, Measure: ByWeight},
		{Prefixes: []string{"02"}, ItemDigits: 5, PriceCheck: true, ValueDigits: 4, Measure: ByPrice},
	}
	for _, l := range layouts {
		if err := l.Validate(); err != nil {
			t.Fatalf("layout %+v: %v", l, err)
		}
	}
	upc, err := Parse("2" + "12345" + "9" + "2875" + string(mustCheck(t, "21234592875")))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		code Code
		want Variable
		err  error
	}{
		{"price without check", ean(t, "211234501250"), Variable{Prefix: "21", Item: "12345", Value: 1250, Measure: ByPrice}, nil},
		{"weight with 5-digit check", ean(t, "281234614685"), Variable{Prefix: "28", Item: "1234", Value: 14685, Measure: ByWeight}, nil},
		{"wrong 5-digit check (the popular 7)", ean(t, "281234714685"), Variable{}, ErrCheckDigit},
		{"UPC-A number system 2 with 4-digit check", upc, Variable{Prefix: "02", Item: "12345", Value: 2875, Measure: ByPrice}, nil},
		{"unconfigured prefix", ean(t, "251234501250"), Variable{}, ErrNotVariable},
		{"ordinary product", ean(t, "400638133393"), Variable{}, ErrNotVariable},
		{"EAN-8", Code{EAN8, "96385074"}, Variable{}, ErrNotVariable},
		{"hand-made bad code", Code{EAN13, "211234501251"}, Variable{}, ErrNotVariable},
		{"hand-made bad check digit", Code{EAN13, "2112345012509"}, Variable{}, ErrCheckDigit},
	}
	for _, tc := range tests {
		got, err := DecodeVariable(tc.code, layouts)
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.err)
		}
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func mustCheck(t *testing.T, payload string) byte {
	t.Helper()
	c, err := CheckDigit(payload)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLayoutValidate(t *testing.T) {
	tests := []struct {
		name string
		l    Layout
		ok   bool
	}{
		{"5+5", Layout{Prefixes: []string{"20"}, ItemDigits: 5, ValueDigits: 5}, true},
		{"4+check+5", Layout{Prefixes: []string{"29"}, ItemDigits: 4, PriceCheck: true, ValueDigits: 5}, true},
		{"5+check+4", Layout{Prefixes: []string{"02"}, ItemDigits: 5, PriceCheck: true, ValueDigits: 4, Measure: ByWeight}, true},
		{"6+4", Layout{Prefixes: []string{"23"}, ItemDigits: 6, ValueDigits: 4}, true},
		{"no prefix", Layout{ItemDigits: 5, ValueDigits: 5}, false},
		{"prefix 30", Layout{Prefixes: []string{"30"}, ItemDigits: 5, ValueDigits: 5}, false},
		{"prefix 2", Layout{Prefixes: []string{"2"}, ItemDigits: 5, ValueDigits: 5}, false},
		{"too many digits", Layout{Prefixes: []string{"20"}, ItemDigits: 5, PriceCheck: true, ValueDigits: 5}, false},
		{"too few digits", Layout{Prefixes: []string{"20"}, ItemDigits: 4, ValueDigits: 5}, false},
		{"check over 3 digits", Layout{Prefixes: []string{"20"}, ItemDigits: 6, PriceCheck: true, ValueDigits: 3}, false},
		{"no item digits", Layout{Prefixes: []string{"20"}, ValueDigits: 10}, false},
		{"bad measure", Layout{Prefixes: []string{"20"}, ItemDigits: 5, ValueDigits: 5, Measure: 9}, false},
	}
	for _, tc := range tests {
		err := tc.l.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidLayout) {
			t.Errorf("%s: %v does not wrap ErrInvalidLayout", tc.name, err)
		}
	}
	// An invalid layout is reported when a code reaches it.
	bad := []Layout{{Prefixes: []string{"21"}, ItemDigits: 9, ValueDigits: 5}}
	if _, err := DecodeVariable(ean(t, "211234501250"), bad); !errors.Is(err, ErrInvalidLayout) {
		t.Errorf("DecodeVariable with an invalid layout: %v", err)
	}
}
