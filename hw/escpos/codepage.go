package escpos

import (
	"fmt"
	"strings"

	"golang.org/x/text/encoding/charmap"
)

// A Charset is a single-byte character set a printer can print. The zero
// value is CP437, the table printers select at power-on.
type Charset uint8

// Character sets. CP437 has no euro sign (CP858, WPC1252 and ISO8859_15
// have it); Ukrainian letters are in WPC1251 but not in CP866.
const (
	CP437      Charset = iota // PC437, USA and standard Europe
	CP850                     // PC850, Western Europe
	CP858                     // PC858, CP850 with the euro sign
	WPC1252                   // Windows-1252, Western Europe
	ISO8859_15                // ISO 8859-15, Latin-9
	WPC1251                   // Windows-1251, Cyrillic
	CP866                     // PC866, Cyrillic (Russian)
	numCharsets
)

func (c Charset) String() string {
	switch c {
	case CP437:
		return "CP437"
	case CP850:
		return "CP850"
	case CP858:
		return "CP858"
	case WPC1252:
		return "WPC1252"
	case ISO8859_15:
		return "ISO8859-15"
	case WPC1251:
		return "WPC1251"
	case CP866:
		return "CP866"
	}
	return fmt.Sprintf("Charset(%d)", uint8(c))
}

func (c Charset) charmap() *charmap.Charmap {
	switch c {
	case CP437:
		return charmap.CodePage437
	case CP850:
		return charmap.CodePage850
	case CP858:
		return charmap.CodePage858
	case WPC1252:
		return charmap.Windows1252
	case ISO8859_15:
		return charmap.ISO8859_15
	case WPC1251:
		return charmap.Windows1251
	case CP866:
		return charmap.CodePage866
	}
	return nil
}

// EpsonTable is the ESC t table number Epson printers use for c. Other
// vendors number their tables differently; see [CodePage].
func (c Charset) EpsonTable() byte {
	switch c {
	case CP850:
		return 2
	case CP858:
		return 19
	case WPC1252:
		return 16
	case ISO8859_15:
		return 40
	case WPC1251:
		return 46
	case CP866:
		return 17
	}
	return 0
}

// A CodePage is a character set as one printer numbers it: Table is the n
// of ESC t n that selects Charset on that printer. The zero value is CP437
// in table 0.
type CodePage struct {
	Charset Charset
	Table   byte
}

// EpsonCodePage returns c with Epson's table number.
func EpsonCodePage(c Charset) CodePage {
	return CodePage{Charset: c, Table: c.EpsonTable()}
}

// Validate reports whether the character set is one this package knows.
func (p CodePage) Validate() error {
	if p.Charset >= numCharsets {
		return invalidf("code page: unknown charset %d", uint8(p.Charset))
	}
	return nil
}

// tableMap maps ESC t table numbers to character sets; entries that are
// not known hold numCharsets.
type tableMap [256]Charset

func newTableMap(pages []CodePage) *tableMap {
	var m tableMap
	for i := range m {
		m[i] = numCharsets
	}
	for c := range numCharsets {
		m[c.EpsonTable()] = c
	}
	for _, p := range pages {
		if p.Validate() == nil {
			m[p.Table] = p.Charset
		}
	}
	return &m
}

// Charmap returns the character map of c, or nil if c is not a charset
// this package knows.
func (c Charset) Charmap() *charmap.Charmap { return c.charmap() }

// ParseCharset reads a charset name as configuration files spell it:
// its String form or a common alias, in any case ("cp858", "PC858",
// "windows-1252", "iso-8859-15", "cp1251").
func ParseCharset(name string) (Charset, error) {
	n := strings.ToLower(strings.NewReplacer("-", "", "_", "", " ", "").Replace(name))
	switch n {
	case "cp437", "pc437", "ibm437", "":
		return CP437, nil
	case "cp850", "pc850", "ibm850":
		return CP850, nil
	case "cp858", "pc858", "ibm858":
		return CP858, nil
	case "wpc1252", "cp1252", "windows1252":
		return WPC1252, nil
	case "iso885915", "latin9":
		return ISO8859_15, nil
	case "wpc1251", "cp1251", "windows1251":
		return WPC1251, nil
	case "cp866", "pc866", "ibm866":
		return CP866, nil
	}
	return 0, invalidf("charset %q: want cp437, cp850, cp858, wpc1252, iso8859-15, wpc1251 or cp866", name)
}
