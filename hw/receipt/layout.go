package receipt

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/tillmesh/tillmesh/hw/escpos"
	"github.com/tillmesh/tillmesh/hw/glyph"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// A Layout is how one printer prints receipts.
type Layout struct {
	// Columns is the number of font A characters on a line: 32 on 58 mm
	// paper, 48 on 80 mm.
	Columns int
	// Printer is the printer's code page, QR capability and width in dots.
	Printer escpos.Config
	// Cut is the cut made at the end; NoCut leaves the paper uncut, for
	// printers without a cutter.
	Cut   escpos.CutMode
	NoCut bool
	// Feed is the number of lines fed before the cut, so that the last
	// line clears the cutter.
	Feed int
	// Decimal, when set ('.' or ','), replaces the decimal mark of the
	// receipt's language in amounts (a printer set up before receipts
	// spoke the store's language); zero means the language's.
	Decimal byte
	// QRModule is the largest QR module size in dots; it shrinks to fit
	// the paper. Zero means 6.
	QRModule int
	// NoBarcode leaves out the CODE128 barcode of the receipt number.
	NoBarcode bool
	// TextOnly never prints a line as an image: characters the code
	// page lacks print as the replacement byte. By default such a line
	// prints as a raster image of its text (hw/glyph).
	TextOnly bool
	// ASCII says the printer's code page is not known (a configuration
	// named one this package does not know): only ASCII prints as text,
	// every other line as an image.
	ASCII bool
}

// Layout58 is a 58 mm printer: 32 columns, 384 dots, CP437.
func Layout58() Layout {
	c := escpos.DefaultConfig()
	c.DotsPerLine = 384
	return Layout{Columns: 32, Printer: c, Cut: escpos.PartialCut, Feed: 3}
}

// Layout80 is an 80 mm printer: 48 columns, 576 dots, CP437.
func Layout80() Layout {
	return Layout{Columns: 48, Printer: escpos.DefaultConfig(), Cut: escpos.PartialCut, Feed: 3}
}

// Validate reports the first field that is out of range.
func (l Layout) Validate() error {
	if err := l.Printer.Validate(); err != nil {
		return fmt.Errorf("layout: %v: %w", err, ErrInvalid)
	}
	switch {
	case l.Columns < 24 || l.Columns > 80:
		return fmt.Errorf("layout: %d columns outside 24..80: %w", l.Columns, ErrInvalid)
	case l.Feed < 0 || l.Feed > 20:
		return fmt.Errorf("layout: feed %d outside 0..20: %w", l.Feed, ErrInvalid)
	case l.Decimal != 0 && l.Decimal != '.' && l.Decimal != ',':
		return fmt.Errorf("layout: decimal separator %q: %w", l.Decimal, ErrInvalid)
	case l.QRModule < 0 || l.QRModule > 16:
		return fmt.Errorf("layout: qr module %d outside 0..16: %w", l.QRModule, ErrInvalid)
	case l.Cut > escpos.PartialCut:
		return fmt.Errorf("layout: cut mode %d: %w", l.Cut, ErrInvalid)
	}
	return nil
}

// A Printout is a rendered receipt.
type Printout struct {
	// Segments are the ESC/POS commands, split between whole commands.
	Segments [][]byte
	// Unencodable lists the characters printed as the replacement byte,
	// each once: the code page lacks them and no raster line could draw
	// them (the font lacks them too, or the layout is TextOnly).
	Unencodable []rune
	// Rastered lists the characters the code page lacks that were
	// printed in raster lines, each once.
	Rastered []rune
	// QR is the payload of the receipt's QR code; empty if it did not fit.
	QR string
}

// Bytes returns the segments joined.
func (p *Printout) Bytes() []byte {
	n := 0
	for _, s := range p.Segments {
		n += len(s)
	}
	out := make([]byte, 0, n)
	for _, s := range p.Segments {
		out = append(out, s...)
	}
	return out
}

// CopyMark is printed at the top and the bottom of a reprint, in
// English (the catalog's receipt.copy in the receipt's language; see
// IsCopyMark).
const CopyMark = "** COPY **"

// maxRasterBand is the most bytes of raster data sent in one GS v 0
// command, so that a drawer kick never waits long behind an image.
const maxRasterBand = 1024

// Render lays out r for l. With reprint set, the receipt is marked as a
// copy at its top and bottom.
func Render(r Receipt, l Layout, reprint bool) (*Printout, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	if l.QRModule == 0 {
		l.QRModule = 6
	}
	if l.Printer.DotsPerLine == 0 {
		l.Printer.DotsPerLine = escpos.DefaultDotsPerLine
	}
	b, err := escpos.NewBuilder(l.Printer)
	if err != nil {
		return nil, fmt.Errorf("layout: %v: %w", err, ErrInvalid)
	}
	if _, err := catalog(); err != nil {
		return nil, fmt.Errorf("render: catalogs: %w", err)
	}
	cur, err := i18n.LookupCurrency(r.Currency)
	if err != nil {
		cur = i18n.Currency{Code: strings.ToUpper(r.Currency), Digits: 2}
	}
	w := &writer{b: b, cols: l.Columns, dots: l.Printer.DotsPerLine, lang: lang(r.Lang), cur: cur, dec: l.Decimal,
		ascii: l.ASCII, st: glyph.Style{Width: 1, Height: 1}}
	if !l.TextOnly {
		if w.face, err = glyph.Default(); err != nil {
			return nil, fmt.Errorf("render: %w", err)
		}
	}
	w.receipt(&r, l, reprint)
	if w.err != nil {
		return nil, w.err
	}
	return &Printout{Segments: w.segments(), Unencodable: union(b.Unencodable(), w.replaced), Rastered: w.rastered, QR: w.qr}, nil
}

// union is a with the runes of b it lacks appended.
func union(a, b []rune) []rune {
	for _, r := range b {
		if !slices.Contains(a, r) {
			a = append(a, r)
		}
	}
	return a
}

// writer appends a receipt to a Builder and remembers the command
// boundaries.
type writer struct {
	b    *escpos.Builder
	cuts []int
	cols int
	dots int
	lang i18n.Lang
	cur  i18n.Currency
	dec  byte        // a decimal mark in place of the language's; 0: none
	face *glyph.Face // draws raster lines; nil: TextOnly
	// ascii: the code page is unknown, only ASCII prints as text.
	ascii bool
	st    glyph.Style // what ESC a, ESC ! and GS ! selected
	// rastered: characters printed in raster lines; replaced: those
	// printed as '?' in a raster line (the font lacks them).
	rastered, replaced []rune
	qr                 string
	err                error
}

// mark records a command boundary.
func (w *writer) mark() { w.cuts = append(w.cuts, w.b.Len()) }

// must keeps the first error that is not about unencodable characters:
// those are printed as the replacement byte and reported by the Builder.
func (w *writer) must(err error) {
	if err != nil && w.err == nil && !isUnencodable(err) {
		w.err = fmt.Errorf("render: %w", err)
	}
	w.mark()
}

func isUnencodable(err error) bool { return errors.Is(err, escpos.ErrUnencodable) }

func (w *writer) segments() [][]byte {
	all := w.b.Bytes()
	var out [][]byte
	start := 0
	for _, c := range w.cuts {
		if c > start && c <= len(all) {
			out = append(out, all[start:c])
			start = c
		}
	}
	if start < len(all) {
		out = append(out, all[start:])
	}
	return out
}

// line prints s and ends the line: as text, or, if the code page lacks
// a character of s, as a raster image of the line (hw/glyph) in the
// style and alignment in force.
func (w *writer) line(s string) {
	s = strings.Map(func(r rune) rune {
		if r == '\u00a0' || r == '\u202f' { // the locale's grouping: one column either way
			return ' '
		}
		return r
	}, s)
	if w.face != nil {
		missing := w.b.Missing(s)
		if w.ascii {
			missing = nil
			for _, r := range s {
				if r >= 0x80 && !slices.Contains(missing, r) {
					missing = append(missing, r)
				}
			}
		}
		if len(missing) > 0 {
			img, lost := w.face.Draw(s, w.st, w.dots)
			for _, r := range missing {
				if !slices.Contains(lost, r) {
					w.rastered = union(w.rastered, []rune{r})
				}
			}
			w.replaced = union(w.replaced, lost)
			w.image(img)
			return
		}
	}
	w.must(w.b.Line(s))
}

func (w *writer) align(a escpos.Align) {
	w.must(w.b.SetAlign(a))
	w.st.Align = a
}

func (w *writer) size(width, height int) {
	w.must(w.b.SetSize(width, height))
	w.st.Width, w.st.Height = width, height
}

// style selects s; like ESC !, it also resets the character size.
func (w *writer) style(s escpos.Style) {
	w.b.SetStyle(s)
	w.mark()
	w.st.Bold, w.st.Width, w.st.Height = s.Bold, 1, 1
	if s.DoubleWidth {
		w.st.Width = 2
	}
	if s.DoubleHeight {
		w.st.Height = 2
	}
}

// t is the message key in the receipt's language.
func (w *writer) t(key string, args ...any) string { return T(w.lang, key, args...) }

// image prints img in bands of at most maxRasterBand bytes, so that a
// drawer kick waits behind no more than one band.
func (w *writer) image(img *escpos.Raster) {
	rows := max(1, maxRasterBand/img.Stride())
	for y := 0; y < img.Height; y += rows {
		h := min(rows, img.Height-y)
		band := &escpos.Raster{Width: img.Width, Height: h, Pix: img.Pix[y*img.Stride() : (y+h)*img.Stride()]}
		w.must(w.b.Image(band))
	}
}

func (w *writer) rule() { w.line(strings.Repeat("-", w.cols)) }

// pair prints left and right on one line, right-aligned, wrapping left
// when both do not fit.
func (w *writer) pair(left, right string) {
	for _, s := range pair(clean(left), clean(right), w.cols) {
		w.line(s)
	}
}

// wrapped prints s word-wrapped to width columns.
func (w *writer) wrapped(s string, width int) {
	for _, l := range wrap(clean(s), width) {
		w.line(l)
	}
}

// num is an amount as a number in the receipt's language, for columns:
// "1,234.56", "1 234,56", "12 000".
func (w *writer) num(m ledger.Money) string {
	return w.decimal(i18n.FormatNumber(w.lang, int64(m), w.cur.Digits))
}

// money is an amount with its currency, as the language writes it:
// "€2.50", "2,50 €", "12 000 soʻm". A symbol that neither the code page
// nor the raster font can print (₽ is in neither) gives way to the ISO
// code: "50,00 RUB".
func (w *writer) money(m ledger.Money) string {
	if w.printable(w.cur.Symbol(w.lang)) {
		return w.decimal(i18n.FormatMoney(w.lang, w.cur, m))
	}
	num := w.num(m)
	if w.lang != i18n.English {
		return num + " " + w.cur.Code
	}
	if n, ok := strings.CutPrefix(num, "-"); ok {
		return "-" + w.cur.Code + " " + n
	}
	return w.cur.Code + " " + num
}

// printable reports whether every character of s prints: as text, or in
// a raster line.
func (w *writer) printable(s string) bool {
	for _, r := range s {
		text := len(w.b.Missing(string(r))) == 0 && (!w.ascii || r < 0x80)
		if !text && (w.face == nil || !w.face.Has(r)) {
			return false
		}
	}
	return true
}

// decimal puts the layout's decimal mark in place of the language's;
// a grouping mark equal to it becomes a space.
func (w *writer) decimal(s string) string {
	mark := i18n.DecimalMark(w.lang)
	if w.dec == 0 || string(w.dec) == mark || w.cur.Digits == 0 {
		return s
	}
	group := strings.Trim(i18n.FormatNumber(w.lang, 1000, 0), "01")
	newGroup := group
	if newGroup == string(w.dec) {
		newGroup = " "
	}
	s = strings.ReplaceAll(s, group, "\x00")
	s = strings.ReplaceAll(s, mark, string(w.dec))
	return strings.ReplaceAll(s, "\x00", newGroup)
}

// when is a time in the receipt's language, in the time's own zone.
func (w *writer) when(t time.Time) string { return i18n.FormatTime(w.lang, t, t.Location()) }

func (w *writer) receipt(r *Receipt, l Layout, reprint bool) {
	w.b.Init()
	w.mark()
	if reprint {
		w.copyMark()
	}

	// Header: the store's name large, then its address lines.
	w.align(escpos.Center)
	w.style(escpos.Style{Bold: true})
	w.size(2, 2)
	w.wrapped(r.Store, w.cols/2)
	w.size(1, 1)
	w.style(escpos.Style{})
	for _, h := range r.Header {
		w.wrapped(h, w.cols)
	}
	w.align(escpos.Left)
	w.line("")
	cashier := ""
	if r.Cashier != "" {
		cashier = w.t("receipt.cashier", "name", r.Cashier)
	}
	w.pair(r.Till, cashier)
	if r.Title != "" {
		w.report(r, l, reprint)
		return
	}
	w.pair(w.t("receipt.number", "number", r.Number), w.when(r.Time))
	if r.Customer != "" {
		w.pair(w.t("receipt.customer", "number", r.Customer), "")
	}
	w.rule()
	w.lines(r)
	w.rule()
	w.totals(r)
	w.rule()
	w.bands(r)
	w.trailer(r, l, reprint)
}

// lines prints the sale's lines: the amount column ends with the line's
// tax code.
func (w *writer) lines(r *Receipt) {
	letters := map[ledger.TaxRate]string{}
	for i, b := range r.Bands {
		letters[b.Rate] = taxLetter(i)
	}
	code := func(rate ledger.TaxRate) string {
		if c, ok := letters[rate]; ok {
			return c
		}
		return "*"
	}
	for _, ln := range r.Lines {
		amount := w.num(ln.Gross) + " " + code(ln.Rate)
		if ln.Qty == 1 && ln.Unit != ledger.Kilogram {
			w.pair(ln.Name, amount)
		} else {
			w.wrapped(ln.Name, w.cols)
			w.pair("  "+w.quantity(ln), amount)
		}
		if ln.OverrideReason != "" { // issue 16
			w.wrapped("  "+w.t("receipt.override", "price", w.money(ln.ListPrice), "reason", ln.OverrideReason), w.cols)
		}
		if ln.Discount != 0 {
			w.pair("  "+w.t("receipt.discount"), w.num(-ln.Discount)+"  ")
		}
	}
}

// totals prints the subtotal, discount, tax, total, cash rounding and
// the amount due after it, tenders and change.
func (w *writer) totals(r *Receipt) {
	var subtotal ledger.Money
	for _, ln := range r.Lines {
		subtotal += ln.Gross - ln.Discount
	}
	w.pair(w.t("receipt.subtotal"), w.num(subtotal)+"  ")
	if r.CartDiscount != 0 {
		w.pair(w.t("receipt.discount"), w.num(-r.CartDiscount)+"  ")
	}
	if !r.TaxIncluded {
		w.pair(w.t("receipt.tax"), w.num(r.Tax)+"  ")
	}
	w.style(escpos.Style{Bold: true})
	w.size(1, 2)
	w.pair(w.t("receipt.total"), w.money(r.Total))
	w.size(1, 1)
	w.style(escpos.Style{})
	if r.Rounding != 0 {
		w.pair(w.t("receipt.rounding"), w.money(r.Rounding))
		w.style(escpos.Style{Bold: true})
		w.pair(w.t("receipt.rounded_due"), w.money(r.Total+r.Rounding))
		w.style(escpos.Style{})
	}
	for _, t := range r.Tenders {
		label := TenderLabel(w.lang, t.Kind)
		if t.Ref != "" {
			label += " " + t.Ref
		}
		w.pair(label, w.money(t.Amount))
		if t.Left != nil {
			w.wrapped(w.t("receipt.card_left", "card", label, "amount", w.money(*t.Left)), w.cols)
		}
	}
	if r.Change != 0 {
		w.pair(w.t("receipt.change"), w.money(r.Change))
	}
}

// bands prints the tax by rate.
func (w *writer) bands(r *Receipt) {
	if len(r.Bands) == 0 {
		return
	}
	w.line(columns(w.cols, w.t("receipt.rate"), w.t("receipt.net"), w.t("receipt.tax")))
	for i, b := range r.Bands {
		w.line(columns(w.cols, taxLetter(i)+" "+b.Rate.String(), w.num(b.Net), w.num(b.Tax)))
	}
	if r.TaxIncluded {
		w.wrapped(w.t("receipt.tax_included"), w.cols)
	}
	w.rule()
}

// trailer prints the footer, the barcode, the QR code and the event's
// ID, the copy mark of a reprint, and cuts.
func (w *writer) trailer(r *Receipt, l Layout, reprint bool) {
	w.align(escpos.Center)
	for _, f := range r.Footer {
		w.wrapped(f, w.cols)
	}
	if r.FiscalQR != "" {
		w.printQR(r.FiscalQR, l) // the fiscal service's verification link
	}
	barcode := r.Code
	if barcode == "" {
		barcode = r.Number
	}
	if !l.NoBarcode && code128Fits(barcode, l.Printer.DotsPerLine) {
		w.must(w.b.SetBarcodeHeight(48))
		w.must(w.b.SetBarcodeWidth(2))
		w.must(w.b.SetHRI(escpos.HRIBelow))
		w.must(w.b.Code128(barcode))
	}
	w.end(r, l, reprint)
}

// end prints the QR code, the event's ID and the copy mark, and cuts.
func (w *writer) end(r *Receipt, l Layout, reprint bool) {
	w.qrCode(QRPayload(r.Verify, r.EventID, r.Sig), l)
	w.line(w.t("receipt.id", "id", r.EventID.String()[:16]))
	if reprint {
		w.copyMark()
	}
	w.align(escpos.Left)
	w.b.Feed(l.Feed)
	w.mark()
	if !l.NoCut {
		w.must(w.b.Cut(l.Cut))
	}
}

// report prints a report's title, period and rows, then its QR code.
func (w *writer) report(r *Receipt, l Layout, reprint bool) {
	w.rule()
	w.align(escpos.Center)
	w.style(escpos.Style{Bold: true})
	w.size(1, 2)
	w.wrapped(r.Title+" "+r.Number, w.cols)
	w.size(1, 1)
	w.style(escpos.Style{})
	w.align(escpos.Left)
	w.pair(w.t("receipt.from"), w.when(r.Time))
	if r.Closed != nil {
		w.pair(w.t("receipt.to"), w.when(*r.Closed))
	}
	w.rule()
	for _, row := range r.Summary {
		v := row.Text
		if row.Money != nil {
			v = w.money(*row.Money)
		}
		w.pair(row.Label, v)
	}
	w.rule()
	w.align(escpos.Center)
	w.end(r, l, reprint)
}

func (w *writer) copyMark() {
	w.align(escpos.Center)
	w.style(escpos.Style{Bold: true})
	w.size(2, 2)
	w.line(w.t("receipt.copy"))
	w.size(1, 1)
	w.style(escpos.Style{})
	w.align(escpos.Left)
}

// qrCode prints the payload as large as fits: natively, or as raster
// bands of at most maxRasterBand bytes.
func (w *writer) qrCode(payload string, l Layout) {
	if w.printQR(payload, l) {
		w.qr = payload
	}
}

// printQR prints a QR code as large as fits; false if none fits.
func (w *writer) printQR(payload string, l Layout) bool {
	dots := l.Printer.DotsPerLine
	probe, err := escpos.RenderQR(payload, 1, escpos.QRLevelM, 1<<12)
	if err != nil {
		w.must(err)
		return false
	}
	module := min(l.QRModule, dots/probe.Width)
	if module < 1 {
		return false // cannot fit: the ID line below still names the event
	}
	if l.Printer.QR == escpos.QRNative {
		w.must(w.b.QR(payload, module, escpos.QRLevelM))
		return true
	}
	img, err := escpos.RenderQR(payload, module, escpos.QRLevelM, dots)
	if err != nil {
		w.must(err)
		return false
	}
	w.image(img)
	return true
}

// code128Fits reports whether a CODE128 code set B barcode of s, with
// modules of 2 dots and its quiet zones, fits dots.
func code128Fits(s string, dots int) bool {
	modules := 11*(len(s)+2) + 13 + 20 // start, check, stop, quiet zones
	return 2*modules <= dots
}

func (w *writer) quantity(ln Line) string {
	if ln.Unit == ledger.Kilogram {
		return w.t("receipt.qty_kg", "kg", w.decimal(i18n.FormatNumber(w.lang, ln.Qty, 3)), "price", w.num(ln.UnitPrice))
	}
	return w.t("receipt.qty", "qty", ln.Qty, "price", w.num(ln.UnitPrice))
}

// taxLetter names the i-th tax band: A, B, ... Z, then *.
func taxLetter(i int) string {
	if i < 26 {
		return string(rune('A' + i))
	}
	return "*"
}

// clean makes s safe and measurable for one printed line: NFC, so that
// one character is one column, with control characters as spaces.
// Leading and trailing spaces are kept: they align columns.
func clean(s string) string {
	s = norm.NFC.String(s)
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.Is(unicode.Mn, r):
			return -1 // a combining mark NFC could not merge would take a column
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return ' '
		}
		return r
	}, s)
}

func width(s string) int { return utf8.RuneCountInString(s) }

// cut returns the first n runes of s and the rest.
func cut(s string, n int) (string, string) {
	i := 0
	for j := range s {
		if i == n {
			return s[:j], s[j:]
		}
		i++
	}
	return s, ""
}

// wrap splits s into lines of at most w columns at spaces, breaking words
// longer than a line. An empty s gives no lines.
func wrap(s string, w int) []string {
	var lines []string
	cur := ""
	for _, word := range strings.Fields(s) {
		for width(word) > w {
			if cur != "" {
				lines = append(lines, cur)
				cur = ""
			}
			var head string
			head, word = cut(word, w)
			lines = append(lines, head)
		}
		switch {
		case word == "":
		case cur == "":
			cur = word
		case width(cur)+1+width(word) <= w:
			cur += " " + word
		default:
			lines = append(lines, cur)
			cur = word
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

// pair lays out left and right on lines of w columns: on one line if they
// fit, else left wrapped and right at the end of its last line or on a
// line of its own.
func pair(left, right string, w int) []string {
	if strings.TrimSpace(left) == "" && strings.TrimSpace(right) == "" {
		return []string{""}
	}
	if width(right) > w {
		right, _ = cut(right, w)
	}
	indent := width(left) - width(strings.TrimLeft(left, " "))
	lines := wrap(left, w-indent)
	for i := range lines {
		lines[i] = strings.Repeat(" ", indent) + lines[i]
	}
	last := ""
	if n := len(lines); n > 0 && width(lines[n-1])+1+width(right) <= w {
		last, lines = lines[n-1], lines[:n-1]
	}
	return append(lines, last+strings.Repeat(" ", w-width(last)-width(right))+right)
}

// columns lays out a label and two right-aligned amounts of a third of
// the width each (at least 10 columns).
func columns(w int, label, a, b string) string {
	col := max(10, w/4)
	lw := w - 2*col
	if width(label) > lw {
		label, _ = cut(label, lw)
	}
	pad := func(s string, n int) string {
		if width(s) >= n {
			s, _ = cut(s, n)
			return s
		}
		return strings.Repeat(" ", n-width(s)) + s
	}
	return label + strings.Repeat(" ", lw-width(label)) + pad(a, col) + pad(b, col)
}
