package i18n

import (
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/tillmesh/tillmesh/ledger"
)

// Currency is a currency and how many minor units its amounts count
// (EUR 2: an amount of 250 is 2.50; UZS 0: 12000 is 12,000 soʻm).
type Currency struct {
	Code   string // ISO 4217
	Digits int
}

// LookupCurrency is the currency with ISO code code, its digits from
// CLDR (cldr_gen.go, generated from golang.org/x/text/currency).
func LookupCurrency(code string) (Currency, error) {
	c := strings.ToUpper(strings.TrimSpace(code))
	digits, ok := currencyDigits[c]
	if !ok {
		return Currency{}, Errorf("input.currency", "code", code)
	}
	return Currency{Code: c, Digits: int(digits)}, nil
}

//go:generate go run ./internal/gencldr

// Unit is one whole unit of the currency in minor units (100 for EUR, 1
// for UZS).
func (c Currency) Unit() ledger.Money {
	u := ledger.Money(1)
	for range c.Digits {
		u *= 10
	}
	return u
}

// symbols are the symbols CLDR has and golang.org/x/text's tables lack:
// Russian writes so'm "сум" (x/text gives "UZS").
var symbols = map[Lang]map[string]string{Russian: {"UZS": "сум"}}

// Symbol is the currency's symbol in l ("€", "soʻm", "сум").
func (c Currency) Symbol(l Lang) string {
	if s, ok := symbols[l][c.Code]; ok {
		return s
	}
	if s, ok := currencySymbols[l][c.Code]; ok {
		return s
	}
	return c.Code
}

// marks are a locale's decimal mark and grouping separator.
type marks struct{ decimal, group string }

// marksOf is l's marks from CLDR (cldr_gen.go).
func marksOf(l Lang) marks {
	if m, ok := cldrMarks[l]; ok {
		return m
	}
	return marks{decimal: ".", group: ","}
}

// DecimalMark is l's decimal mark ("." or ",").
func DecimalMark(l Lang) string { return marksOf(l).decimal }

// FormatNumber writes v/10^digits with l's grouping and decimal mark:
// FormatNumber(ru, 123456, 2) is "1 234,56" (no-break space).
func FormatNumber(l Lang, v int64, digits int) string {
	m := marksOf(l)
	neg := v < 0
	u := uint64(v)
	if neg {
		u = uint64(-v)
	}
	s := strconv.FormatUint(u, 10)
	for len(s) <= digits {
		s = "0" + s
	}
	whole, frac := s[:len(s)-digits], s[len(s)-digits:]
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(m.group)
		}
		b.WriteRune(r)
	}
	if digits > 0 {
		b.WriteString(m.decimal)
		b.WriteString(frac)
	}
	return b.String()
}

// symbolAt is where l writes c's symbol: before the number (English)
// or after it, and whether a no-break space parts them (always after the
// number; before it only for a symbol of letters, "UZS 12,000").
func symbolAt(l Lang, sym string) (prefix, space bool) {
	if l != English {
		return false, true
	}
	r := []rune(sym)
	return true, len(r) > 1 && unicode.IsLetter(r[len(r)-1])
}

// FormatMoney writes amount m of c as a person in l reads it: "€2.50",
// "2,50 €", "12 000 soʻm".
func FormatMoney(l Lang, c Currency, m ledger.Money) string {
	num := FormatNumber(l, int64(m), c.Digits)
	sym := c.Symbol(l)
	prefix, space := symbolAt(l, sym)
	gap := ""
	if space {
		gap = "\u00a0"
	}
	if !prefix {
		return num + gap + sym
	}
	sign := ""
	if strings.HasPrefix(num, "-") {
		sign, num = "-", num[1:]
	}
	return sign + sym + gap + num
}

func pageFormat(l Lang, c Currency) PageFormat {
	m := marksOf(l)
	sym := c.Symbol(l)
	prefix, space := symbolAt(l, sym)
	date := map[Lang]string{English: "D MON YYYY", Russian: "DD.MM.YYYY", Uzbek: "DD.MM.YYYY"}[l.orEnglish()]
	return PageFormat{Decimal: m.decimal, Group: m.group, Currency: c.Code, Digits: c.Digits, Symbol: sym,
		Prefix: prefix, Space: space, Date: date, Time: "hh:mm"}
}

// ParseMoney reads an amount of c typed by a person in l: digits with
// l's decimal mark and, optionally, its grouping (or plain spaces). It
// refuses the other decimal mark, more decimals than c has, a negative
// amount, and an amount that is not a whole number of smallest (the
// store's smallest amount in use, in minor units; 0 or 1 for any).
func ParseMoney(l Lang, c Currency, smallest ledger.Money, s string) (ledger.Money, error) {
	in := strings.TrimSpace(s)
	m := marksOf(l)
	if in == "" {
		return 0, Errorf("input.amount_empty")
	}
	if strings.HasPrefix(in, "-") {
		return 0, Errorf("input.amount_negative", "text", s)
	}
	// A grouping mark that is not a space must group by three: "12,50"
	// in English is a decimal comma typed by mistake, not twelve fifty.
	if g := m.group; strings.TrimSpace(g) != "" && g != "\u00a0" && g != "\u202f" && strings.Contains(in, g) {
		w, _, _ := strings.Cut(in, m.decimal)
		parts := strings.Split(w, g)
		for i, p := range parts {
			if (i == 0 && (len(p) < 1 || len(p) > 3)) || (i > 0 && len(p) != 3) {
				return 0, Errorf("input.decimal_mark", "text", s, "mark", m.decimal)
			}
		}
	}
	// Drop grouping: the locale's separator and any kind of space.
	in = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '\u00a0' || r == '\u202f' || string(r) == m.group {
			return -1
		}
		return r
	}, in)
	other := ","
	if m.decimal == "," {
		other = "."
	}
	whole, frac, hasDec := strings.Cut(in, m.decimal)
	if strings.Contains(in, other) || strings.Contains(frac, m.decimal) {
		return 0, Errorf("input.decimal_mark", "text", s, "mark", m.decimal)
	}
	if whole == "" && !hasDec {
		return 0, Errorf("input.amount_digits", "text", s)
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return 0, Errorf("input.amount_digits", "text", s)
		}
	}
	if len(frac) > c.Digits {
		return 0, Errorf("input.amount_decimals", "text", s, "code", c.Code, "digits", c.Digits)
	}
	if hasDec && frac == "" {
		return 0, Errorf("input.amount_digits", "text", s)
	}
	digits := strings.TrimLeft(whole, "0") + frac + strings.Repeat("0", c.Digits-len(frac))
	if len(digits) > 15 {
		return 0, Errorf("input.amount_large", "text", s)
	}
	v := int64(0)
	if digits != "" {
		v, _ = strconv.ParseInt(digits, 10, 64)
	}
	if smallest > 1 && v%int64(smallest) != 0 {
		return 0, Errorf("input.amount_step", "text", s, "step", FormatMoney(l, c, smallest))
	}
	return ledger.Money(v), nil
}

// Layouts of dates and times per language, in Go's reference-time form.
var (
	dateLayout = map[Lang]string{English: "2 Jan 2006", Russian: "02.01.2006", Uzbek: "02.01.2006"}
	timeLayout = map[Lang]string{English: "15:04", Russian: "15:04", Uzbek: "15:04"}
)

// FormatDate is t's date in loc as l writes it.
func FormatDate(l Lang, t time.Time, loc *time.Location) string {
	return t.In(loc).Format(dateLayout[l.orEnglish()])
}

// FormatTime is t's date and time of day in loc as l writes them.
func FormatTime(l Lang, t time.Time, loc *time.Location) string {
	l = l.orEnglish()
	return t.In(loc).Format(dateLayout[l] + " " + timeLayout[l])
}

func (l Lang) orEnglish() Lang {
	if l.valid() {
		return l
	}
	return English
}
