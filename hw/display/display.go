package display

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"

	"github.com/tillmesh/tillmesh/hw/escpos"
)

// Errors.
var (
	// ErrInvalid means a configuration value is out of range.
	ErrInvalid = errors.New("display: invalid configuration")
	// ErrUnknownCommand means a Screen met a command it does not know.
	ErrUnknownCommand = errors.New("display: unknown command")
)

// Protocol is a display's command set.
type Protocol uint8

const (
	// Epson is ESC/POS for customer displays (Epson DM-D and clones).
	Epson Protocol = iota
	// CD5220 is the Partner Tech CD5220 command set.
	CD5220
)

func (p Protocol) String() string {
	switch p {
	case Epson:
		return "epson"
	case CD5220:
		return "cd5220"
	}
	return fmt.Sprintf("Protocol(%d)", uint8(p))
}

// ParseProtocol reads "epson" or "cd5220".
func ParseProtocol(s string) (Protocol, error) {
	switch strings.ToLower(s) {
	case "epson", "esc/pos", "escpos", "":
		return Epson, nil
	case "cd5220":
		return CD5220, nil
	}
	return 0, fmt.Errorf("protocol %q: want epson or cd5220: %w", s, ErrInvalid)
}

// Rows is the number of lines of a pole display.
const Rows = 2

// Config describes one display. The zero value is an Epson-style display
// of 20 columns in CP437 table 0.
type Config struct {
	Protocol Protocol
	// Columns is the number of characters on a line; zero means 20.
	Columns int
	// CodePage is the character table the display shows. Epson-style
	// displays select its Table with ESC t; CD5220 displays have a fixed
	// table, named here only to encode text.
	CodePage escpos.CodePage
	// ASCII shows only ASCII, transliterating everything else, for
	// displays whose upper half is unknown.
	ASCII bool
}

// Validate reports the first field that is out of range.
func (c Config) Validate() error {
	if c.Protocol > CD5220 {
		return fmt.Errorf("protocol %d: %w", c.Protocol, ErrInvalid)
	}
	if c.Columns < 0 || c.Columns > 40 {
		return fmt.Errorf("%d columns outside 1..40: %w", c.Columns, ErrInvalid)
	}
	if err := c.CodePage.Validate(); err != nil {
		return fmt.Errorf("%v: %w", err, ErrInvalid)
	}
	return nil
}

func (c Config) columns() int {
	if c.Columns == 0 {
		return 20
	}
	return c.Columns
}

func (c Config) charmap() *charmap.Charmap {
	if c.ASCII {
		return nil
	}
	return c.CodePage.Charset.Charmap()
}

// Control bytes.
const (
	bs  = 0x08
	ht  = 0x09
	lf  = 0x0a
	hom = 0x0b
	clr = 0x0c
	cr  = 0x0d
	dc1 = 0x11
	dc2 = 0x12
	dc3 = 0x13
	can = 0x18
	esc = 0x1b
	us  = 0x1f
)

// Init returns the commands that reset the display, select overwrite
// mode, hide the cursor and (Epson) select the code table.
func Init(c Config) []byte {
	if c.Protocol == CD5220 {
		return []byte{esc, '@', esc, dc1, esc, '_', 0, clr}
	}
	return []byte{esc, '@', us, 0x01, us, 'C', 0, esc, 't', c.CodePage.Table, clr}
}

// Frame returns the commands that show top and bottom, each transliterated
// and cut or padded to the display's width, and the characters that could
// not be shown.
func Frame(c Config, top, bottom string) ([]byte, []rune) {
	t, bad1 := Encode(c, top)
	b, bad2 := Encode(c, bottom)
	var out []byte
	if c.Protocol == CD5220 {
		out = append(out, esc, 'Q', 'A')
		out = append(out, t...)
		out = append(out, cr, esc, 'Q', 'B')
		out = append(out, b...)
		out = append(out, cr)
	} else {
		out = append(out, us, '$', 1, 1)
		out = append(out, t...)
		out = append(out, us, '$', 1, 2)
		out = append(out, b...)
	}
	for _, r := range bad2 {
		if !strings.ContainsRune(string(bad1), r) {
			bad1 = append(bad1, r)
		}
	}
	return out, bad1
}

// Encode returns s as exactly Columns bytes of the display's code page:
// transliterated, cut, padded with spaces. The runes it had to show as
// '?' are returned, each once.
func Encode(c Config, s string) ([]byte, []rune) {
	cm := c.charmap()
	t, bad := Transliterate(s, cm)
	n := c.columns()
	out := make([]byte, 0, n)
	for _, r := range t {
		if len(out) == n {
			break
		}
		if r < 0x80 {
			out = append(out, byte(r))
			continue
		}
		b, ok := cm.EncodeRune(r) // Transliterate kept only encodable runes
		if !ok {
			b = '?'
		}
		out = append(out, b)
	}
	for len(out) < n {
		out = append(out, ' ')
	}
	return out, bad
}

// Pair lays out left and right on one line of the display: left cut to
// leave room for right, right-aligned.
func Pair(c Config, left, right string) string {
	l, _ := Transliterate(left, c.charmap())
	r, _ := Transliterate(right, c.charmap())
	n := c.columns()
	rw := utf8.RuneCountInString(r)
	if rw >= n {
		return r
	}
	lr := []rune(l)
	if len(lr) > n-rw-1 {
		lr = lr[:max(0, n-rw-1)]
	}
	return string(lr) + strings.Repeat(" ", n-len(lr)-rw) + r
}

// Transliterate rewrites s with the characters cm can encode (nil: ASCII
// only): others become their closest ASCII, or '?' if they have none.
// Control characters become spaces. It returns the runes shown as '?'.
func Transliterate(s string, cm *charmap.Charmap) (string, []rune) {
	var b strings.Builder
	var bad []rune
	encodable := func(r rune) bool {
		if r < 0x80 {
			return r >= 0x20 && r != 0x7f
		}
		if cm == nil {
			return false
		}
		_, ok := cm.EncodeRune(r)
		return ok
	}
	for _, r := range norm.NFC.String(s) {
		switch {
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			b.WriteByte(' ')
		case encodable(r):
			b.WriteRune(r)
		case translit[r] != "":
			b.WriteString(translit[r])
		default:
			if base, ok := stripMarks(r); ok && encodable(base) {
				b.WriteRune(base)
				continue
			}
			if unicode.Is(unicode.Mn, r) {
				continue // a lone combining mark
			}
			b.WriteByte('?')
			if !strings.ContainsRune(string(bad), r) {
				bad = append(bad, r)
			}
		}
	}
	return b.String(), bad
}

// stripMarks returns the base letter of r without its accents.
func stripMarks(r rune) (rune, bool) {
	d := norm.NFD.String(string(r))
	base, size := utf8.DecodeRuneInString(d)
	if size == len(d) {
		return 0, false
	}
	for _, m := range d[size:] {
		if !unicode.Is(unicode.Mn, m) {
			return 0, false
		}
	}
	return base, true
}

// translit maps characters with no accent to strip to ASCII.
var translit = map[rune]string{
	'€': "EUR", '£': "GBP", '¥': "JPY", '¢': "c", '₴': "UAH", '₽': "RUB", '₣': "F",
	'ß': "ss", 'Æ': "AE", 'æ': "ae", 'Œ': "OE", 'œ': "oe", 'Ø': "O", 'ø': "o",
	'Đ': "D", 'đ': "d", 'Ł': "L", 'ł': "l", 'Þ': "Th", 'þ': "th", 'ı': "i", 'Ð': "D", 'ð': "d",
	'–': "-", '—': "-", '‐': "-", '‑': "-", '−': "-", '‘': "'", '’': "'", '‚': "'", '´': "'",
	'“': "\"", '”': "\"", '„': "\"", '«': "<<", '»': ">>", '…': "...", '•': "*", '·': ".",
	'×': "x", '÷': "/", '\u00a0': " ", '\u202f': " ", '°': "o", '¿': "?", '¡': "!", '½': "1/2",
	'А': "A", 'Б': "B", 'В': "V", 'Г': "G", 'Ґ': "G", 'Д': "D", 'Е': "E", 'Є': "Ye", 'Ё': "Yo",
	'Ж': "Zh", 'З': "Z", 'И': "I", 'І': "I", 'Ї': "Yi", 'Й': "Y", 'К': "K", 'Л': "L", 'М': "M",
	'Н': "N", 'О': "O", 'П': "P", 'Р': "R", 'С': "S", 'Т': "T", 'У': "U", 'Ф': "F", 'Х': "Kh",
	'Ц': "Ts", 'Ч': "Ch", 'Ш': "Sh", 'Щ': "Shch", 'Ъ': "\"", 'Ы': "Y", 'Ь': "'", 'Э': "E",
	'Ю': "Yu", 'Я': "Ya",
	'а': "a", 'б': "b", 'в': "v", 'г': "g", 'ґ': "g", 'д': "d", 'е': "e", 'є': "ye", 'ё': "yo",
	'ж': "zh", 'з': "z", 'и': "i", 'і': "i", 'ї': "yi", 'й': "y", 'к': "k", 'л': "l", 'м': "m",
	'н': "n", 'о': "o", 'п': "p", 'р': "r", 'с': "s", 'т': "t", 'у': "u", 'ф': "f", 'х': "kh",
	'ц': "ts", 'ч': "ch", 'ш': "sh", 'щ': "shch", 'ъ': "\"", 'ы': "y", 'ь': "'", 'э': "e",
	'ю': "yu", 'я': "ya",
}
