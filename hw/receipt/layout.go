package receipt

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/tillmesh/tillmesh/hw/escpos"
	"github.com/tillmesh/tillmesh/ledger"
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
	// Decimal separates the units of money from the cents: '.' or ','.
	// Zero means '.'.
	Decimal byte
	// QRModule is the largest QR module size in dots; it shrinks to fit
	// the paper. Zero means 6.
	QRModule int
	// NoBarcode leaves out the CODE128 barcode of the receipt number.
	NoBarcode bool
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
	// Unencodable lists the characters the code page lacks, each once;
	// they were printed as the replacement byte.
	Unencodable []rune
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

// CopyMark is printed at the top and the bottom of a reprint.
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
	if l.Decimal == 0 {
		l.Decimal = '.'
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
	w := &writer{b: b, cols: l.Columns, exp: exponent(r.Currency), dec: l.Decimal}
	w.receipt(&r, l, reprint)
	if w.err != nil {
		return nil, w.err
	}
	return &Printout{Segments: w.segments(), Unencodable: b.Unencodable(), QR: w.qr}, nil
}

// writer appends a receipt to a Builder and remembers the command
// boundaries.
type writer struct {
	b    *escpos.Builder
	cuts []int
	cols int
	exp  int
	dec  byte
	qr   string
	err  error
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

func (w *writer) line(s string) { w.must(w.b.Line(s)) }

func (w *writer) align(a escpos.Align) { w.must(w.b.SetAlign(a)) }

func (w *writer) size(width, height int) { w.must(w.b.SetSize(width, height)) }

func (w *writer) style(s escpos.Style) { w.b.SetStyle(s); w.mark() }

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

func (w *writer) money(m ledger.Money) string { return formatMoney(m, w.exp, w.dec) }

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
		cashier = "Cashier " + r.Cashier
	}
	w.pair(r.Till, cashier)
	if r.Title != "" {
		w.report(r, l, reprint)
		return
	}
	w.pair("Receipt "+r.Number, r.Time.Format("2006-01-02 15:04"))
	if r.Customer != "" {
		w.pair("Customer "+r.Customer, "")
	}
	w.rule()

	// Lines: the amount column ends with the line's tax code.
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
	var subtotal ledger.Money
	for _, ln := range r.Lines {
		amount := w.money(ln.Gross) + " " + code(ln.Rate)
		if ln.Qty == 1 && ln.Unit != ledger.Kilogram {
			w.pair(ln.Name, amount)
		} else {
			w.wrapped(ln.Name, w.cols)
			w.pair("  "+w.quantity(ln), amount)
		}
		if ln.OverrideReason != "" { // issue 16
			w.wrapped(fmt.Sprintf("  Price override, was %s: %s", w.money(ln.ListPrice), ln.OverrideReason), w.cols)
		}
		if ln.Discount != 0 {
			w.pair("  Discount", w.money(-ln.Discount)+"  ")
		}
		subtotal += ln.Gross - ln.Discount
	}
	w.rule()

	// Totals.
	w.pair("Subtotal", w.money(subtotal)+"  ")
	if r.CartDiscount != 0 {
		w.pair("Discount", w.money(-r.CartDiscount)+"  ")
	}
	if !r.TaxIncluded {
		w.pair("Tax", w.money(r.Tax)+"  ")
	}
	w.style(escpos.Style{Bold: true})
	w.size(1, 2)
	w.pair("TOTAL "+r.Currency, w.money(r.Total)+"  ")
	w.size(1, 1)
	w.style(escpos.Style{})
	for _, t := range r.Tenders {
		label := tenderLabel(t.Kind)
		if t.Ref != "" {
			label += " " + t.Ref
		}
		w.pair(label, w.money(t.Amount)+"  ")
		if t.Left != nil {
			w.line(fmt.Sprintf("%s: %s left", label, w.money(*t.Left)))
		}
	}
	if r.Change != 0 {
		w.pair("Change", w.money(r.Change)+"  ")
	}
	w.rule()

	// Tax by rate.
	if len(r.Bands) > 0 {
		w.line(columns(w.cols, "Rate", "Net", "Tax"))
		for i, b := range r.Bands {
			w.line(columns(w.cols, taxLetter(i)+" "+b.Rate.String(), w.money(b.Net), w.money(b.Tax)))
		}
		if r.TaxIncluded {
			w.line("Prices include tax")
		}
		w.rule()
	}

	// Footer, barcode, QR code.
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
	w.qrCode(QRPayload(r.Verify, r.EventID, r.Sig), l)
	w.line("ID " + r.EventID.String()[:16])
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
	w.line(r.Title + " " + r.Number)
	w.size(1, 1)
	w.style(escpos.Style{})
	w.align(escpos.Left)
	w.pair("From", r.Time.Format("2006-01-02 15:04"))
	if r.Closed != nil {
		w.pair("To", r.Closed.Format("2006-01-02 15:04"))
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
	w.qrCode(QRPayload(r.Verify, r.EventID, r.Sig), l)
	w.line("ID " + r.EventID.String()[:16])
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

func (w *writer) copyMark() {
	w.align(escpos.Center)
	w.style(escpos.Style{Bold: true})
	w.size(2, 2)
	w.line(CopyMark)
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
	rows := max(1, maxRasterBand/img.Stride())
	for y := 0; y < img.Height; y += rows {
		h := min(rows, img.Height-y)
		band := &escpos.Raster{Width: img.Width, Height: h, Pix: img.Pix[y*img.Stride() : (y+h)*img.Stride()]}
		w.must(w.b.Image(band))
	}
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
		return fmt.Sprintf("%s kg x %s/kg", formatMoney(ledger.Money(ln.Qty), 3, w.dec), w.money(ln.UnitPrice))
	}
	return fmt.Sprintf("%d x %s", ln.Qty, w.money(ln.UnitPrice))
}

func tenderLabel(k ledger.TenderKind) string {
	switch k {
	case ledger.Cash:
		return "Cash"
	case ledger.Card:
		return "Card"
	case ledger.Other:
		return "Other"
	case ledger.GiftCardTender:
		return "Gift card"
	case ledger.StoreCreditTender:
		return "Store credit"
	}
	return string(k)
}

// taxLetter names the i-th tax band: A, B, ... Z, then *.
func taxLetter(i int) string {
	if i < 26 {
		return string(rune('A' + i))
	}
	return "*"
}

// exponent is the number of minor-unit digits of an ISO 4217 currency.
func exponent(currency string) int {
	switch currency {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3
	}
	return 2
}

// formatMoney writes m minor units with exp decimals.
func formatMoney(m ledger.Money, exp int, dec byte) string {
	neg := m < 0
	u := uint64(m)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u, 10)
	if exp > 0 {
		if len(s) <= exp {
			s = strings.Repeat("0", exp-len(s)+1) + s
		}
		s = s[:len(s)-exp] + string(dec) + s[len(s)-exp:]
	}
	if neg {
		s = "-" + s
	}
	return s
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
