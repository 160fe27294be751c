package escpos

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// Limits that bound what the decoder buffers for one command.
const (
	maxRasterBytes = 1 << 20 // data of one GS v 0 image
	maxPending     = maxRasterBytes + 8
	maxBarcodeA    = 255 // data of a NUL-terminated GS k barcode
)

// A Line is a line of text as the printer would print it, with the
// layout in force when its first character arrived.
type Line struct {
	Text      string
	Align     Align
	Bold      bool
	Underline bool
	Width     int // character width multiplier, 1 to 8
	Height    int // character height multiplier, 1 to 8
	// Image is set on a line that was printed as a raster image and read
	// back as text (hw/glyph): the image.
	Image *Raster
}

// String renders the line as its non-default layout and the quoted text,
// such as `center bold 2x2 "TOTAL"`.
func (l Line) String() string {
	var b strings.Builder
	if l.Image != nil {
		b.WriteString("raster ")
	}
	if l.Align != Left {
		b.WriteString(l.Align.String())
		b.WriteByte(' ')
	}
	if l.Bold {
		b.WriteString("bold ")
	}
	if l.Underline {
		b.WriteString("underline ")
	}
	if l.Width != 1 || l.Height != 1 {
		fmt.Fprintf(&b, "%dx%d ", l.Width, l.Height)
	}
	b.WriteString(strconv.Quote(l.Text))
	return b.String()
}

// EventKind says what an Event is.
type EventKind uint8

const (
	EventInit        EventKind = iota + 1 // ESC @
	EventCodePage                         // ESC t n: Table
	EventFeed                             // ESC d n: Lines
	EventCut                              // GS V: Cut, FeedUnits
	EventBarcode                          // GS k: Symbology, Data, BarHeight, BarWidth, HRI
	EventQR                               // GS ( k print: Data, ModuleSize, Level
	EventRaster                           // GS v 0: Raster
	EventPulse                            // ESC p or DLE DC4 1: Pulse, Realtime
	EventStatusQuery                      // DLE EOT n: Query
	EventAutoStatus                       // GS a n: ASB
)

// An Event is a command with an effect other than text. Only the fields
// that its Kind names are set.
type Event struct {
	Kind   EventKind
	Offset int64 // offset of the command's first byte in the stream
	Line   int   // the number of Lines printed before the event

	Table      byte // EventCodePage
	Lines      int  // EventFeed
	Cut        CutMode
	FeedUnits  int // EventCut: motion units fed before the cut
	Symbology  Symbology
	Data       string // EventBarcode, EventQR: the payload
	BarHeight  int    // EventBarcode, in dots
	BarWidth   int    // EventBarcode: module width in dots
	HRI        HRI
	ModuleSize int // EventQR
	Level      QRLevel
	Raster     *Raster
	Pulse      Pulse
	Realtime   bool // EventPulse: DLE DC4 rather than ESC p
	Query      StatusQuery
	ASB        ASB
}

// String renders the event on one line, such as "cut partial feed=3".
func (e Event) String() string {
	switch e.Kind {
	case EventInit:
		return "init"
	case EventCodePage:
		return fmt.Sprintf("codepage %d", e.Table)
	case EventFeed:
		return fmt.Sprintf("feed %d", e.Lines)
	case EventCut:
		if e.FeedUnits > 0 {
			return fmt.Sprintf("cut %v feed=%d", e.Cut, e.FeedUnits)
		}
		return fmt.Sprintf("cut %v", e.Cut)
	case EventBarcode:
		return fmt.Sprintf("barcode %v %q height=%d width=%d hri=%v", e.Symbology, e.Data, e.BarHeight, e.BarWidth, e.HRI)
	case EventQR:
		return fmt.Sprintf("qr level=%v size=%d %q", e.Level, e.ModuleSize, e.Data)
	case EventRaster:
		if e.Raster == nil {
			return "raster"
		}
		return fmt.Sprintf("raster %dx%d", e.Raster.Width, e.Raster.Height)
	case EventPulse:
		s := fmt.Sprintf("pulse %v on=%v off=%v", e.Pulse.Pin, e.Pulse.On, e.Pulse.Off)
		if e.Realtime {
			s += " realtime"
		}
		return s
	case EventStatusQuery:
		return fmt.Sprintf("status-query %d", e.Query)
	case EventAutoStatus:
		return fmt.Sprintf("auto-status 0x%02x", uint8(e.ASB))
	}
	return fmt.Sprintf("EventKind(%d)", e.Kind)
}

// A Document is what a stream printed: its lines and its events.
type Document struct {
	Lines  []Line
	Events []Event
}

// Text returns the lines' text, each followed by a newline.
func (d *Document) Text() string {
	var b strings.Builder
	for _, l := range d.Lines {
		b.WriteString(l.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

// EventsOf returns the events of kind k.
func (d *Document) EventsOf(k EventKind) []Event {
	var out []Event
	for _, e := range d.Events {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// String renders the lines and events in the order they happened, one
// per line: events as Event.String, lines prefixed with "text ".
func (d *Document) String() string {
	var b strings.Builder
	li := 0
	lines := func(upto int) {
		for ; li < upto && li < len(d.Lines); li++ {
			b.WriteString("text ")
			b.WriteString(d.Lines[li].String())
			b.WriteByte('\n')
		}
	}
	for _, e := range d.Events {
		lines(e.Line)
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	lines(len(d.Lines))
	return b.String()
}

// Parse decodes a whole ESC/POS stream. pages says which character set
// each ESC t table number selects, on top of Epson's numbering. On error
// the Document holds what was decoded before the failing command.
func Parse(data []byte, pages ...CodePage) (*Document, error) {
	d := NewDecoder(pages...)
	if _, err := d.Write(data); err != nil {
		return d.Document(), err
	}
	err := d.Close()
	return d.Document(), err
}

// A Decoder decodes an ESC/POS stream that arrives in pieces, as a
// printer would: it keeps a command cut short until the rest arrives.
// After an error it decodes nothing more.
type Decoder struct {
	tables  *tableMap
	off     int64 // stream offset of pending[0]
	pending []byte
	err     error
	closed  bool
	doc     Document

	cm          *charmap.Charmap
	text        []byte // UTF-8 of the line being printed
	started     bool   // text has a character, and line holds its layout
	line        Line   // layout of the line being printed
	align       Align
	bold        bool
	underline   bool
	width       int
	height      int
	barHeight   int
	barWidth    int
	hri         HRI
	qrData      string // shared by the QR events that print it
	qrStored    bool
	qrModule    int
	qrLevel     QRLevel
	printedLine int
}

// NewDecoder returns a Decoder that maps ESC t table numbers as Epson
// does, overridden by pages.
func NewDecoder(pages ...CodePage) *Decoder {
	d := &Decoder{tables: newTableMap(pages)}
	d.reset()
	return d
}

// reset puts the printer state back to power-on, as ESC @ does: the line
// being assembled is discarded, as ESC @ clears the print buffer.
func (d *Decoder) reset() {
	d.setTable(0)
	d.text = d.text[:0]
	d.started = false
	d.align, d.bold, d.underline = Left, false, false
	d.width, d.height = 1, 1
	d.barHeight, d.barWidth, d.hri = 162, 3, HRINone
	d.qrData, d.qrStored = "", false
	d.qrModule, d.qrLevel = 3, QRLevelL
}

func (d *Decoder) setTable(n byte) {
	d.cm = nil
	if c := d.tables[n]; c < numCharsets {
		d.cm = c.charmap()
	}
}

// Document returns what has been printed so far. Its slices are shared
// with the Decoder: read them, do not change them.
func (d *Decoder) Document() *Document {
	return &Document{Lines: d.doc.Lines, Events: d.doc.Events}
}

// Write decodes p. A command cut short at the end of p is kept for the
// next Write. It returns len(p) unless it met an error, which is a
// [*ParseError] and sticks: later Writes return it too.
func (d *Decoder) Write(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.closed {
		d.err = errors.New("escpos: write after close")
		return 0, d.err
	}
	prev := len(d.pending)
	d.pending = append(d.pending, p...)
	i := 0
	for i < len(d.pending) {
		n, err := d.step(d.pending[i:], d.off+int64(i))
		if errors.Is(err, ErrTruncated) {
			break
		}
		if err != nil {
			d.err = err
			d.pending = nil
			return max(i-prev, 0), err
		}
		i += n
	}
	d.off += int64(i)
	if i > 0 {
		d.pending = append(d.pending[:0], d.pending[i:]...)
	}
	if len(d.pending) > maxPending {
		d.err = &ParseError{Offset: d.off, Command: commandName(d.pending), Err: ErrTooLarge}
		d.pending = nil
		return len(p), d.err
	}
	return len(p), nil
}

// Close ends the stream: it prints a last line that had no LF, and
// reports [ErrTruncated] if a command was cut short.
func (d *Decoder) Close() error {
	if d.err != nil {
		return d.err
	}
	if d.closed {
		return nil
	}
	d.closed = true
	if len(d.pending) > 0 {
		_, err := d.step(d.pending, d.off)
		if err == nil { // cannot happen: Write stops only on ErrTruncated
			err = &ParseError{Offset: d.off, Command: commandName(d.pending), Err: ErrTruncated}
		}
		d.err = err
		d.pending = nil
		return err
	}
	d.flush()
	return nil
}

// step decodes the text run or the command at the start of b, which is
// never empty, and returns how many bytes it used.
func (d *Decoder) step(b []byte, off int64) (int, error) {
	switch c := b[0]; {
	case c == lf:
		d.endLine()
		return 1, nil
	case c == cr:
		return 1, nil
	case c == esc:
		return d.esc(b, off)
	case c == gs:
		return d.gs(b, off)
	case c == fs:
		return d.fs(b, off)
	case c == dle:
		return d.dle(b, off)
	case c < 0x20 && c != ht:
		return 0, &ParseError{Offset: off, Command: fmt.Sprintf("0x%02x", c), Err: ErrUnknownCommand}
	}
	n := 1
	for n < len(b) && (b[n] >= 0x20 || b[n] == ht) {
		n++
	}
	d.addText(b[:n])
	return n, nil
}

func (d *Decoder) addText(p []byte) {
	if !d.started {
		d.line = Line{Align: d.align, Bold: d.bold, Underline: d.underline, Width: d.width, Height: d.height}
		d.started = true
	}
	for _, c := range p {
		r := rune(c)
		if c >= 0x80 {
			r = utf8.RuneError
			if d.cm != nil {
				r = d.cm.DecodeByte(c)
			}
		}
		d.text = utf8.AppendRune(d.text, r)
	}
}

// endLine prints the line being assembled, even an empty one (LF).
func (d *Decoder) endLine() {
	if !d.started {
		d.line = Line{Align: d.align, Bold: d.bold, Underline: d.underline, Width: d.width, Height: d.height}
	}
	d.line.Text = string(d.text)
	d.doc.Lines = append(d.doc.Lines, d.line)
	d.text = d.text[:0]
	d.started = false
}

// flush prints the line being assembled if it has text, as commands that
// print the buffer do.
func (d *Decoder) flush() {
	if d.started {
		d.endLine()
	}
}

func (d *Decoder) event(e Event) {
	e.Line = len(d.doc.Lines)
	d.doc.Events = append(d.doc.Events, e)
}

// commandName names the command at the start of b for errors.
func commandName(b []byte) string {
	if len(b) == 0 {
		return "end of stream"
	}
	var prefix string
	switch b[0] {
	case esc:
		prefix = "ESC"
	case gs:
		prefix = "GS"
	case fs:
		prefix = "FS"
	case dle:
		prefix = "DLE"
	default:
		return fmt.Sprintf("0x%02x", b[0])
	}
	if len(b) < 2 {
		return prefix
	}
	name := prefix + " " + byteName(b[1])
	if (b[0] == gs || b[0] == fs) && b[1] == '(' && len(b) > 2 {
		name += " " + byteName(b[2])
	}
	return name
}

func byteName(c byte) string {
	switch {
	case c == eot:
		return "EOT"
	case c == enq:
		return "ENQ"
	case c == dc4:
		return "DC4"
	case c > 0x20 && c < 0x7f:
		return string(rune(c))
	}
	return fmt.Sprintf("0x%02x", c)
}

func truncated(b []byte, off int64) error {
	return &ParseError{Offset: off, Command: commandName(b), Err: ErrTruncated}
}

func invalidAt(b []byte, off int64, format string, args ...any) error {
	return &ParseError{Offset: off, Command: commandName(b), Err: invalidf(format, args...)}
}

func unknown(b []byte, off int64) error {
	return &ParseError{Offset: off, Command: commandName(b), Err: ErrUnknownCommand}
}

// skip returns n if b holds n bytes, and ErrTruncated if not.
func skip(b []byte, off int64, n int) (int, error) {
	if len(b) < n {
		return 0, truncated(b, off)
	}
	return n, nil
}

// selector maps n and its ASCII-digit form '0'+n (both are valid for many
// commands) to 0..limit, or reports false.
func selector(n byte, limit byte) (byte, bool) {
	if n >= '0' {
		n -= '0'
	}
	return n, n <= limit
}

func (d *Decoder) esc(b []byte, off int64) (int, error) {
	if len(b) < 2 {
		return 0, truncated(b, off)
	}
	switch b[1] {
	case '@':
		d.reset()
		d.event(Event{Kind: EventInit, Offset: off})
		return 2, nil
	case '2', '<': // line spacing, return home
		return 2, nil
	case '3', 'M', 'G', 'R', '{', 'V', ' ', 'U', '=', 'r': // no effect on text or events
		return skip(b, off, 3)
	case '$', '\\', 'c':
		return skip(b, off, 4)
	case 'p':
		return d.pulse(b, off)
	case '!', 'E', '-', 'a', 't', 'd', 'J':
	default:
		return 0, unknown(b, off)
	}
	if len(b) < 3 {
		return 0, truncated(b, off)
	}
	n := b[2]
	switch b[1] {
	case '!':
		d.bold = n&0x08 != 0
		d.height = 1 + int(n>>4&1)
		d.width = 1 + int(n>>5&1)
		d.underline = n&0x80 != 0
	case 'E':
		d.bold = n&1 != 0
	case '-':
		u, ok := selector(n, 2)
		if !ok {
			return 0, invalidAt(b, off, "underline %d", n)
		}
		d.underline = u != 0
	case 'a':
		a, ok := selector(n, 2)
		if !ok {
			return 0, invalidAt(b, off, "alignment %d", n)
		}
		d.align = Align(a)
	case 't':
		d.setTable(n)
		d.event(Event{Kind: EventCodePage, Offset: off, Table: n})
	case 'd':
		d.flush()
		d.event(Event{Kind: EventFeed, Offset: off, Lines: int(n)})
	case 'J': // feed n dots
		d.flush()
	}
	return 3, nil
}

// pulse decodes ESC p m t1 t2.
func (d *Decoder) pulse(b []byte, off int64) (int, error) {
	if len(b) < 5 {
		return 0, truncated(b, off)
	}
	m, ok := selector(b[2], 1)
	if !ok {
		return 0, invalidAt(b, off, "drawer pin selector %d", b[2])
	}
	pin := Pin2
	if m == 1 {
		pin = Pin5
	}
	d.event(Event{Kind: EventPulse, Offset: off, Pulse: Pulse{
		Pin: pin,
		On:  time.Duration(b[3]) * 2 * time.Millisecond,
		Off: time.Duration(b[4]) * 2 * time.Millisecond,
	}})
	return 5, nil
}

func (d *Decoder) gs(b []byte, off int64) (int, error) {
	if len(b) < 2 {
		return 0, truncated(b, off)
	}
	switch b[1] {
	case 'k':
		return d.barcode(b, off)
	case '(':
		return d.gsParen(b, off)
	case 'v':
		return d.raster(b, off)
	case 'V':
		return d.cut(b, off)
	case 'f', 'B', 'b', 'I', 'r':
		return skip(b, off, 3)
	case 'L', 'W', '$', 'P', '\\':
		return skip(b, off, 4)
	case '!', 'h', 'w', 'H', 'a':
	default:
		return 0, unknown(b, off)
	}
	if len(b) < 3 {
		return 0, truncated(b, off)
	}
	n := b[2]
	switch b[1] {
	case '!':
		if n&0x88 != 0 {
			return 0, invalidAt(b, off, "character size 0x%02x", n)
		}
		d.width, d.height = int(n>>4)+1, int(n&7)+1
	case 'h':
		if n == 0 {
			return 0, invalidAt(b, off, "barcode height 0")
		}
		d.barHeight = int(n)
	case 'w':
		if n < 1 || n > 6 {
			return 0, invalidAt(b, off, "barcode module width %d", n)
		}
		d.barWidth = int(n)
	case 'H':
		h, ok := selector(n, 3)
		if !ok {
			return 0, invalidAt(b, off, "hri position %d", n)
		}
		d.hri = HRI(h)
	case 'a':
		if n&^byte(ASBAll) != 0 {
			return 0, invalidAt(b, off, "automatic status back mask 0x%02x", n)
		}
		d.event(Event{Kind: EventAutoStatus, Offset: off, ASB: ASB(n)})
	}
	return 3, nil
}

func (d *Decoder) cut(b []byte, off int64) (int, error) {
	if len(b) < 3 {
		return 0, truncated(b, off)
	}
	e := Event{Kind: EventCut, Offset: off}
	n := 3
	switch m := b[2]; m {
	case 0, '0':
		e.Cut = FullCut
	case 1, '1':
		e.Cut = PartialCut
	case 65, 66:
		if len(b) < 4 {
			return 0, truncated(b, off)
		}
		e.Cut = CutMode(m - 65)
		e.FeedUnits = int(b[3])
		n = 4
	default:
		return 0, invalidAt(b, off, "cut mode %d", m)
	}
	d.flush()
	d.event(e)
	return n, nil
}

func (d *Decoder) barcode(b []byte, off int64) (int, error) {
	if len(b) < 3 {
		return 0, truncated(b, off)
	}
	m := b[2]
	var sym Symbology
	var data []byte
	var n int
	switch {
	case m <= 6: // format A: data ends with NUL
		end := bytes.IndexByte(b[3:min(len(b), 3+maxBarcodeA+1)], nul)
		if end < 0 {
			if len(b) > 3+maxBarcodeA {
				return 0, invalidAt(b, off, "barcode data without NUL in %d bytes", maxBarcodeA)
			}
			return 0, truncated(b, off)
		}
		sym, data, n = Symbology(m+1), b[3:3+end], 3+end+1
	case m >= 65 && m <= 79: // format B: length byte, then data
		if len(b) < 4 {
			return 0, truncated(b, off)
		}
		k := int(b[3])
		if len(b) < 4+k {
			return 0, truncated(b, off)
		}
		sym, data, n = Symbology(m-64), b[4:4+k], 4+k
	default:
		return 0, invalidAt(b, off, "barcode type %d", m)
	}
	payload, err := barcodeData(sym, data)
	if err != nil {
		return 0, &ParseError{Offset: off, Command: commandName(b), Err: err}
	}
	d.flush()
	d.event(Event{Kind: EventBarcode, Offset: off, Symbology: sym, Data: payload,
		BarHeight: d.barHeight, BarWidth: d.barWidth, HRI: d.hri})
	return n, nil
}

// barcodeData checks a barcode's data and returns its payload: EAN and
// UPC codes with their check digit, CODE128 without code set selections.
func barcodeData(sym Symbology, data []byte) (string, error) {
	if len(data) == 0 {
		return "", invalidf("%v: no data", sym)
	}
	digits := 0
	switch sym {
	case UPCA:
		digits = 11
	case EAN13:
		digits = 12
	case EAN8:
		digits = 7
	case Code128:
		return decodeCode128(data)
	}
	if digits > 0 {
		p, err := eanPayload(string(data), digits)
		if err != nil {
			return "", fmt.Errorf("%v: %w", sym, err)
		}
		return p + string(checkDigit(p)), nil
	}
	return string(data), nil
}

// decodeCode128 reads Epson's CODE128 data: "{A", "{B" or "{C" select a
// code set and must come first, "{{" is a '{', "{1" to "{4" are function
// characters (dropped here) and "{S" shifts one character to set A or B.
// In set C each byte 0..99 stands for two digits.
func decodeCode128(p []byte) (string, error) {
	if len(p) < 2 || p[0] != '{' || p[1] < 'A' || p[1] > 'C' {
		return "", invalidf("code128: data does not start with a code set selection")
	}
	set := p[1]
	var out []byte
	for i := 2; i < len(p); i++ {
		c := p[i]
		if c == '{' {
			i++
			if i == len(p) {
				return "", invalidf("code128: '{' at the end of the data")
			}
			switch p[i] {
			case 'A', 'B', 'C':
				set = p[i]
			case '1', '2', '3', '4', 'S':
			case '{':
				if set == 'C' {
					return "", invalidf("code128: '{' in code set C")
				}
				out = append(out, '{')
			default:
				return "", invalidf("code128: unknown escape {%c", p[i])
			}
			continue
		}
		switch set {
		case 'A':
			if c > 0x5f {
				return "", invalidf("code128: byte 0x%02x not in code set A", c)
			}
		case 'B':
			if c < 0x20 || c > 0x7f {
				return "", invalidf("code128: byte 0x%02x not in code set B", c)
			}
		case 'C':
			if c > 99 {
				return "", invalidf("code128: byte %d not in code set C", c)
			}
			out = append(out, '0'+c/10, '0'+c%10)
			continue
		}
		out = append(out, c)
	}
	return string(out), nil
}

// gsParen decodes GS ( fn pL pH p1..pk, whose length is in pL and pH. Only
// QR codes (GS ( k with cn 49) have an effect; the rest are skipped.
func (d *Decoder) gsParen(b []byte, off int64) (int, error) {
	if len(b) < 5 {
		return 0, truncated(b, off)
	}
	k := int(b[3]) | int(b[4])<<8
	if len(b) < 5+k {
		return 0, truncated(b, off)
	}
	if b[2] != 'k' {
		return 5 + k, nil
	}
	p := b[5 : 5+k]
	if k < 2 {
		return 0, invalidAt(b, off, "parameter length %d", k)
	}
	if p[0] != 49 { // not QR: PDF417, MaxiCode and other 2D codes
		return 5 + k, nil
	}
	args := p[2:]
	switch fn := p[1]; fn {
	case 65: // model
		if len(args) != 2 || args[0] < 49 || args[0] > 51 {
			return 0, invalidAt(b, off, "qr model % x", args)
		}
	case 67: // module size
		if len(args) != 1 || args[0] < 1 || args[0] > 16 {
			return 0, invalidAt(b, off, "qr module size % x", args)
		}
		d.qrModule = int(args[0])
	case 69: // error correction level
		if len(args) != 1 || args[0] < 48 || args[0] > 51 {
			return 0, invalidAt(b, off, "qr error correction % x", args)
		}
		d.qrLevel = QRLevel(args[0] - 48)
	case 80: // store data
		if len(args) < 2 || args[0] != 48 {
			return 0, invalidAt(b, off, "qr store: %d bytes", len(args))
		}
		d.qrData = string(args[1:])
		d.qrStored = true
	case 81: // print
		if len(args) != 1 || args[0] != 48 {
			return 0, invalidAt(b, off, "qr print % x", args)
		}
		if !d.qrStored {
			return 0, invalidAt(b, off, "qr print with no data stored")
		}
		d.flush()
		d.event(Event{Kind: EventQR, Offset: off, Data: d.qrData, ModuleSize: d.qrModule, Level: d.qrLevel})
	}
	return 5 + k, nil
}

// raster decodes GS v 0 m xL xH yL yH d1..dk.
func (d *Decoder) raster(b []byte, off int64) (int, error) {
	if len(b) < 3 {
		return 0, truncated(b, off)
	}
	if b[2] != '0' {
		return 0, unknown(b, off)
	}
	if len(b) < 8 {
		return 0, truncated(b, off)
	}
	if _, ok := selector(b[3], 3); !ok {
		return 0, invalidAt(b, off, "raster mode %d", b[3])
	}
	x := int(b[4]) | int(b[5])<<8
	y := int(b[6]) | int(b[7])<<8
	if x == 0 || y == 0 {
		return 0, invalidAt(b, off, "raster size %dx%d bytes", x, y)
	}
	if x*y > maxRasterBytes {
		return 0, &ParseError{Offset: off, Command: commandName(b), Err: fmt.Errorf("raster of %d bytes: %w", x*y, ErrTooLarge)}
	}
	if len(b) < 8+x*y {
		return 0, truncated(b, off)
	}
	r := &Raster{Width: 8 * x, Height: y, Pix: bytes.Clone(b[8 : 8+x*y])}
	d.flush()
	d.event(Event{Kind: EventRaster, Offset: off, Raster: r})
	return 8 + x*y, nil
}

func (d *Decoder) fs(b []byte, off int64) (int, error) {
	if len(b) < 2 {
		return 0, truncated(b, off)
	}
	switch b[1] {
	case '.', '&':
		return 2, nil
	case 'C', '!', '-', 'W':
		return skip(b, off, 3)
	case 'S', 'p':
		return skip(b, off, 4)
	case '(':
		if len(b) < 5 {
			return 0, truncated(b, off)
		}
		return skip(b, off, 5+(int(b[3])|int(b[4])<<8))
	}
	return 0, unknown(b, off)
}

func (d *Decoder) dle(b []byte, off int64) (int, error) {
	if len(b) < 2 {
		return 0, truncated(b, off)
	}
	switch b[1] {
	case eot, enq, dc4:
	default:
		return 0, unknown(b, off)
	}
	if len(b) < 3 {
		return 0, truncated(b, off)
	}
	n := b[2]
	switch b[1] {
	case eot:
		switch {
		case n >= 1 && n <= 4:
			d.event(Event{Kind: EventStatusQuery, Offset: off, Query: StatusQuery(n)})
			return 3, nil
		case n == 7 || n == 8:
			return skip(b, off, 4)
		}
		return 0, invalidAt(b, off, "status query %d", n)
	case enq:
		return 3, nil
	}
	switch n { // DLE DC4 fn
	case 1:
		if len(b) < 5 {
			return 0, truncated(b, off)
		}
		m, t := b[3], b[4]
		if m > 1 || t < 1 || t > 8 {
			return 0, invalidAt(b, off, "realtime pulse m=%d t=%d", m, t)
		}
		pin := Pin2
		if m == 1 {
			pin = Pin5
		}
		on := time.Duration(t) * 100 * time.Millisecond
		d.event(Event{Kind: EventPulse, Offset: off, Realtime: true, Pulse: Pulse{Pin: pin, On: on, Off: on}})
		return 5, nil
	case 2:
		return skip(b, off, 5)
	case 7:
		return skip(b, off, 6)
	case 8:
		return skip(b, off, 10)
	}
	return 0, invalidAt(b, off, "DLE DC4 function %d", n)
}
