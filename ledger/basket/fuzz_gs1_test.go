package basket

import (
	"errors"
	"strings"
	"testing"
)

// FuzzEAN checks Parse against the definition: a Code comes back only for
// 8, 12 or 13 digits whose check digit is right, and its GTIN parses to
// itself.
func FuzzEAN(f *testing.F) {
	for _, s := range []string{"4006381333931", "4006381333932", "036000291452", "96385074", "", "12a", "2812346146851"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			if c != (Code{}) || !(errors.Is(err, ErrFormat) || errors.Is(err, ErrCheckDigit)) {
				t.Fatalf("Parse(%q) = %+v, %v", s, c, err)
			}
			return
		}
		if len(s) != 8 && len(s) != 12 && len(s) != 13 {
			t.Fatalf("Parse(%q) accepted %d characters", s, len(s))
		}
		want, err := CheckDigit(s[:len(s)-1])
		if err != nil || want != s[len(s)-1] {
			t.Fatalf("Parse(%q) accepted check digit %c, want %c (%v)", s, s[len(s)-1], want, err)
		}
		if !strings.HasSuffix(c.GTIN, s) || (len(s) == 12) != (len(c.GTIN) == 13 && c.Symbology == UPCA) {
			t.Fatalf("Parse(%q) = %+v", s, c)
		}
		again, err := Parse(c.GTIN)
		if err != nil || again.GTIN != c.GTIN {
			t.Fatalf("Parse(%q) = %+v, %v; want GTIN %s", c.GTIN, again, err, c.GTIN)
		}
		layouts := []Layout{
			{Prefixes: []string{"20", "21", "22", "23", "24"}, ItemDigits: 5, ValueDigits: 5},
			{Prefixes: []string{"25", "26", "27", "28", "29"}, ItemDigits: 4, PriceCheck: true, ValueDigits: 5, Measure: ByWeight},
			{Prefixes: []string{"02"}, ItemDigits: 5, PriceCheck: true, ValueDigits: 4},
		}
		if v, err := DecodeVariable(c, layouts); err == nil {
			if v.Prefix != c.GTIN[:2] || v.Value < 0 || v.Value > 99999 || !strings.HasPrefix(c.GTIN[2:], v.Item) {
				t.Fatalf("DecodeVariable(%s) = %+v", c.GTIN, v)
			}
		} else if !errors.Is(err, ErrNotVariable) && !errors.Is(err, ErrCheckDigit) {
			t.Fatalf("DecodeVariable(%s): %v", c.GTIN, err)
		}
	})
}
