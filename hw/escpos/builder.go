package escpos

import (
	"bytes"
	"slices"
	"strconv"
	"time"

	"golang.org/x/text/encoding/charmap"
)

// Control bytes that start ESC/POS commands.
const (
	nul = 0x00
	eot = 0x04
	enq = 0x05
	ht  = 0x09
	lf  = 0x0a
	cr  = 0x0d
	dle = 0x10
	dc4 = 0x14
	esc = 0x1b
	fs  = 0x1c
	gs  = 0x1d
)

// QRMode says how a printer prints QR codes.
type QRMode uint8

const (
	// QRNative sends the data with GS ( k and lets the printer render it.
	QRNative QRMode = iota
	// QRRaster renders the code on the host and sends it as a GS v 0
	// raster image, for printers without native QR support.
	QRRaster
)

// DefaultDotsPerLine is the printable width of 80 mm paper at 203 dpi.
const DefaultDotsPerLine = 576

// Config describes one printer. The zero value is usable: CP437 in table
// 0, no FS ., native QR codes, 576 dots per line, '?' as replacement.
type Config struct {
	// CodePage is selected by Init and used to encode text.
	CodePage CodePage
	// CancelKanji sends FS . after ESC @, which takes printers that start
	// in a Chinese double-byte mode back to single-byte code pages.
	CancelKanji bool
	// QR says whether the printer renders QR codes itself.
	QR QRMode
	// DotsPerLine is the printable width in dots: 576 for 80 mm paper,
	// 384 for 58 mm. Zero means DefaultDotsPerLine.
	DotsPerLine int
	// Replacement is printed in place of characters the code page lacks.
	// It must be printable ASCII. Zero means '?'.
	Replacement byte
}

// DefaultConfig is a generic 80 mm printer: CP437 in table 0 (the one
// table every printer has), FS . after ESC @, native QR codes.
func DefaultConfig() Config {
	return Config{
		CodePage:    EpsonCodePage(CP437),
		CancelKanji: true,
		QR:          QRNative,
		DotsPerLine: DefaultDotsPerLine,
		Replacement: '?',
	}
}

// Validate reports the first field that is out of range.
func (c Config) Validate() error {
	if err := c.CodePage.Validate(); err != nil {
		return err
	}
	if c.QR > QRRaster {
		return invalidf("qr mode %d", c.QR)
	}
	if c.DotsPerLine < 0 || c.DotsPerLine > maxDotsPerLine {
		return invalidf("dots per line %d outside 0..%d", c.DotsPerLine, maxDotsPerLine)
	}
	if c.Replacement != 0 && (c.Replacement < 0x20 || c.Replacement > 0x7e) {
		return invalidf("replacement byte 0x%02x is not printable ascii", c.Replacement)
	}
	return nil
}

const maxDotsPerLine = 4096

// A Builder appends ESC/POS commands for one printer to a buffer.
//
// Methods that validate their arguments return an error and append nothing
// when the arguments are wrong. Text and Line are the exception: they
// always print, with the replacement byte in place of characters the code
// page lacks, and report those characters.
type Builder struct {
	cfg  Config
	page CodePage
	cm   *charmap.Charmap
	buf  []byte
	bad  []rune
}

// NewBuilder returns a Builder for the printer cfg describes.
func NewBuilder(cfg Config) (*Builder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.DotsPerLine == 0 {
		cfg.DotsPerLine = DefaultDotsPerLine
	}
	if cfg.Replacement == 0 {
		cfg.Replacement = '?'
	}
	return &Builder{cfg: cfg, page: cfg.CodePage, cm: cfg.CodePage.Charset.charmap()}, nil
}

// Bytes returns a copy of the commands appended so far.
func (b *Builder) Bytes() []byte { return bytes.Clone(b.buf) }

// Len returns the number of bytes appended so far.
func (b *Builder) Len() int { return len(b.buf) }

// Unencodable returns every character that Text and Line have printed as
// the replacement byte so far, each once, in order of first appearance.
func (b *Builder) Unencodable() []rune { return slices.Clone(b.bad) }

// CodePage returns the code page text is currently encoded with.
func (b *Builder) CodePage() CodePage { return b.page }

// Init resets the printer (ESC @), leaves the double-byte mode if the
// Config says so (FS .), and selects the configured code page (ESC t n),
// since ESC @ returns the printer to table 0.
func (b *Builder) Init() {
	b.buf = append(b.buf, esc, '@')
	if b.cfg.CancelKanji {
		b.buf = append(b.buf, fs, '.')
	}
	b.page = b.cfg.CodePage
	b.cm = b.page.Charset.charmap()
	b.buf = append(b.buf, esc, 't', b.page.Table)
}

// SetCodePage selects p (ESC t n) for the text that follows.
func (b *Builder) SetCodePage(p CodePage) error {
	if err := p.Validate(); err != nil {
		return err
	}
	b.page = p
	b.cm = p.Charset.charmap()
	b.buf = append(b.buf, esc, 't', p.Table)
	return nil
}

// Missing returns the characters of s, each once in order of first
// appearance, that Text would print as the replacement byte: control
// characters (other than '\n'), invalid UTF-8 and characters the current
// code page lacks. It appends nothing.
func (b *Builder) Missing(s string) []rune {
	var bad []rune
	for _, r := range s {
		if r == '\n' {
			continue
		}
		if _, ok := b.encode(r); !ok && !slices.Contains(bad, r) {
			bad = append(bad, r)
		}
	}
	return bad
}

// encode is r in the current code page; ok is false for control
// characters and characters the page lacks.
func (b *Builder) encode(r rune) (byte, bool) {
	switch {
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
		return 0, false // control characters would be read as commands
	case r < 0x80:
		return byte(r), true
	case b.cm == nil:
		return 0, false
	}
	return b.cm.EncodeRune(r)
}

// Text prints s in the current code page without ending the line; '\n'
// ends a line. Control characters, invalid UTF-8 and characters the code
// page lacks are printed as the replacement byte and reported as an
// [*UnencodableError]; the text is appended either way.
func (b *Builder) Text(s string) error {
	var bad []rune
	for _, r := range s { // invalid UTF-8 comes as U+FFFD
		if r == '\n' {
			b.buf = append(b.buf, lf)
			continue
		}
		if c, ok := b.encode(r); ok {
			b.buf = append(b.buf, c)
			continue
		}
		b.buf = append(b.buf, b.cfg.Replacement)
		if !slices.Contains(bad, r) {
			bad = append(bad, r)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	for _, r := range bad {
		if !slices.Contains(b.bad, r) {
			b.bad = append(b.bad, r)
		}
	}
	return &UnencodableError{Charset: b.page.Charset, Runes: bad}
}

// Line prints s and ends the line (LF). See Text.
func (b *Builder) Line(s string) error {
	err := b.Text(s)
	b.buf = append(b.buf, lf)
	return err
}

// Style is the print mode ESC ! sets. The zero value is plain font A.
type Style struct {
	FontB        bool
	Bold         bool
	DoubleHeight bool
	DoubleWidth  bool
	Underline    bool
}

func (s Style) byte() byte {
	var n byte
	if s.FontB {
		n |= 0x01
	}
	if s.Bold {
		n |= 0x08
	}
	if s.DoubleHeight {
		n |= 0x10
	}
	if s.DoubleWidth {
		n |= 0x20
	}
	if s.Underline {
		n |= 0x80
	}
	return n
}

// SetStyle selects the print mode (ESC ! n). It also resets the character
// size that SetSize selected.
func (b *Builder) SetStyle(s Style) {
	b.buf = append(b.buf, esc, '!', s.byte())
}

// SetSize selects the character size (GS ! n) as width and height
// multipliers, each 1 to 8.
func (b *Builder) SetSize(width, height int) error {
	if width < 1 || width > 8 || height < 1 || height > 8 {
		return invalidf("character size %dx%d outside 1..8", width, height)
	}
	b.buf = append(b.buf, gs, '!', byte(width-1)<<4|byte(height-1))
	return nil
}

// Align is a justification for ESC a.
type Align uint8

const (
	Left Align = iota
	Center
	Right
)

func (a Align) String() string {
	switch a {
	case Left:
		return "left"
	case Center:
		return "center"
	case Right:
		return "right"
	}
	return "Align(" + strconv.Itoa(int(a)) + ")"
}

// SetAlign selects the justification (ESC a n) of the lines that follow.
// Printers apply it at the start of a line.
func (b *Builder) SetAlign(a Align) error {
	if a > Right {
		return invalidf("alignment %d", a)
	}
	b.buf = append(b.buf, esc, 'a', byte(a))
	return nil
}

// Feed prints the buffer and feeds n lines (ESC d n); n is clamped to
// 0..255.
func (b *Builder) Feed(n int) {
	b.buf = append(b.buf, esc, 'd', clampByte(n))
}

// CutMode is a full or a partial cut.
type CutMode uint8

const (
	FullCut CutMode = iota
	PartialCut
)

func (c CutMode) String() string {
	switch c {
	case FullCut:
		return "full"
	case PartialCut:
		return "partial"
	}
	return "CutMode(" + strconv.Itoa(int(c)) + ")"
}

// Cut cuts the paper where it is (GS V m).
func (b *Builder) Cut(c CutMode) error {
	if c > PartialCut {
		return invalidf("cut mode %d", c)
	}
	b.buf = append(b.buf, gs, 'V', byte(c))
	return nil
}

// FeedCut feeds the paper to the cutter plus n motion units (clamped to
// 0..255) and cuts (GS V 65/66 n), so the last line clears the cutter.
func (b *Builder) FeedCut(c CutMode, n int) error {
	if c > PartialCut {
		return invalidf("cut mode %d", c)
	}
	b.buf = append(b.buf, gs, 'V', 65+byte(c), clampByte(n))
	return nil
}

// DrawerPin is the drawer kick-out connector pin a drawer is wired to.
type DrawerPin uint8

const (
	Pin2 DrawerPin = 2
	Pin5 DrawerPin = 5
)

func (p DrawerPin) String() string { return "pin" + strconv.Itoa(int(p)) }

func (p DrawerPin) m() (byte, error) {
	switch p {
	case Pin2:
		return 0, nil
	case Pin5:
		return 1, nil
	}
	return 0, invalidf("drawer pin %d is neither 2 nor 5", uint8(p))
}

// Pulse is a drawer kick: which pin, how long on and how long off.
// Drawers need explicit timing; without it many open only every other
// time.
type Pulse struct {
	Pin DrawerPin
	On  time.Duration
	Off time.Duration
}

// DefaultPulse is 100 ms on, 500 ms off on pin 2.
func DefaultPulse() Pulse {
	return Pulse{Pin: Pin2, On: 100 * time.Millisecond, Off: 500 * time.Millisecond}
}

// Pulse kicks the drawer (ESC p m t1 t2). The times go in units of 2 ms,
// rounded up and clamped to 255 units (510 ms); On must be positive.
// ESC p waits behind the print data before it: a printer that is stuck
// fires it later. See RealtimePulse.
func (b *Builder) Pulse(p Pulse) error {
	m, err := p.Pin.m()
	if err != nil {
		return err
	}
	if p.On <= 0 {
		return invalidf("drawer pulse on time %v is not positive", p.On)
	}
	b.buf = append(b.buf, esc, 'p', m, units(p.On, 2*time.Millisecond, 255), units(p.Off, 2*time.Millisecond, 255))
	return nil
}

// RealtimePulse kicks the drawer at once, ahead of queued print data
// (DLE DC4 1 m t). The printer holds the pin on and then off for t × 100
// ms each, t being on rounded up and clamped to 1..8.
func (b *Builder) RealtimePulse(pin DrawerPin, on time.Duration) error {
	m, err := pin.m()
	if err != nil {
		return err
	}
	if on <= 0 {
		return invalidf("drawer pulse on time %v is not positive", on)
	}
	b.buf = append(b.buf, dle, dc4, 1, m, units(on, 100*time.Millisecond, 8))
	return nil
}

// QueryStatus asks for one status byte (DLE EOT n). The printer answers
// at once, even while it is offline; see [DecodeStatus].
func (b *Builder) QueryStatus(q StatusQuery) error {
	if q < PrinterStatus || q > PaperStatus {
		return invalidf("status query %d outside 1..4", q)
	}
	b.buf = append(b.buf, dle, eot, byte(q))
	return nil
}

// ASB selects what automatic status back (GS a n) reports.
type ASB uint8

const (
	ASBDrawer ASB = 1 << iota // drawer kick-out connector pin 3
	ASBOnline                 // online or offline
	ASBError                  // errors
	ASBPaper                  // roll paper sensors
	ASBAll    = ASBDrawer | ASBOnline | ASBError | ASBPaper
)

// AutoStatusBack makes the printer send four status bytes whenever a
// selected status changes (GS a n); zero turns it off.
func (b *Builder) AutoStatusBack(mask ASB) error {
	if mask&^ASBAll != 0 {
		return invalidf("automatic status back mask 0x%02x", uint8(mask))
	}
	b.buf = append(b.buf, gs, 'a', byte(mask))
	return nil
}

func clampByte(n int) byte {
	return byte(min(max(n, 0), 255))
}

// units converts d to whole units of u, rounding up, clamped to 0..limit.
func units(d, u time.Duration, limit int) byte {
	if d <= 0 {
		return 0
	}
	n := (d + u - 1) / u
	return byte(min(n, time.Duration(limit)))
}
