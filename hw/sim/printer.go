package sim

import (
	"fmt"
	"io"
	"sync"

	"github.com/tillmesh/tillmesh/hw/escpos"
	"github.com/tillmesh/tillmesh/hw/glyph"
	"github.com/tillmesh/tillmesh/hw/receipt"
)

// PrinterState is what a simulated printer is doing.
type PrinterState uint8

const (
	// Ready prints and answers status queries.
	Ready PrinterState = iota
	// PaperOut answers that the paper ran out; what it is sent is lost.
	PaperOut
	// CoverOpen answers that the cover is open; what it is sent is lost.
	CoverOpen
	// Offline answers that it is offline; what it is sent is lost.
	Offline
	// NoReply reads what it is sent and does nothing: no status replies,
	// no printing, no drawer kick.
	NoReply
)

func (s PrinterState) String() string {
	switch s {
	case Ready:
		return "ready"
	case PaperOut:
		return "paper-out"
	case CoverOpen:
		return "cover-open"
	case Offline:
		return "offline"
	case NoReply:
		return "no-reply"
	}
	return fmt.Sprintf("PrinterState(%d)", uint8(s))
}

// PrinterConfig describes a simulated printer.
type PrinterConfig struct {
	// Dots is the paper width in dots; zero means 576 (80 mm).
	Dots int
	// Pages maps ESC t tables to character sets beyond Epson's numbering.
	Pages []escpos.CodePage
	// Polarity is the drawer's: which level of pin 3 means open.
	Polarity escpos.DrawerPolarity
	// Keep is how many receipts are kept; zero means 200.
	Keep int
}

// Printer is a simulated ESC/POS receipt printer with a cash drawer. It
// decodes what it receives into receipts, one per cut, and answers DLE
// EOT at once whatever it is doing (unless NoReply). A receipt any part
// of which arrived while the printer could not print is lost, not
// printed: the drivers must check the status first.
type Printer struct {
	cfg    PrinterConfig
	drawer Drawer

	mu       sync.Mutex
	state    PrinterState
	nearEnd  bool
	receipts []*Receipt
	lost     []*Receipt
	errs     []error
	queries  int
	seq      int
}

// NewPrinter returns a ready printer.
func NewPrinter(cfg PrinterConfig) *Printer {
	if cfg.Dots == 0 {
		cfg.Dots = escpos.DefaultDotsPerLine
	}
	if cfg.Keep == 0 {
		cfg.Keep = 200
	}
	return &Printer{cfg: cfg}
}

// SetState changes what the printer does from now on.
func (p *Printer) SetState(s PrinterState) {
	p.mu.Lock()
	p.state = s
	p.mu.Unlock()
}

// State returns what the printer is doing.
func (p *Printer) State() PrinterState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// SetPaperNearEnd sets the paper near-end sensor.
func (p *Printer) SetPaperNearEnd(low bool) {
	p.mu.Lock()
	p.nearEnd = low
	p.mu.Unlock()
}

// Drawer returns the drawer wired to the printer.
func (p *Printer) Drawer() *Drawer { return &p.drawer }

// Receipts returns the receipts printed so far, oldest first.
func (p *Printer) Receipts() []*Receipt {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*Receipt(nil), p.receipts...)
}

// Lost returns the receipts that arrived while the printer could not
// print them.
func (p *Printer) Lost() []*Receipt {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*Receipt(nil), p.lost...)
}

// Errors returns what the printer could not decode.
func (p *Printer) Errors() []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]error(nil), p.errs...)
}

// StatusQueries returns how many DLE EOT queries arrived.
func (p *Printer) StatusQueries() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.queries
}

// statusByte answers DLE EOT q.
func (p *Printer) statusByte(q escpos.StatusQuery) byte {
	b := byte(0x12)
	printing := p.state == Ready
	switch q {
	case escpos.PrinterStatus:
		high := p.drawer.IsOpen() == (p.cfg.Polarity == escpos.OpenWhenHigh)
		if high {
			b |= 0x04
		}
		if !printing {
			b |= 0x08
		}
	case escpos.OfflineCause:
		if p.state == CoverOpen {
			b |= 0x04
		}
		if p.state == PaperOut {
			b |= 0x20
		}
	case escpos.PaperStatus:
		if p.nearEnd || p.state == PaperOut {
			b |= 0x0c
		}
		if p.state == PaperOut {
			b |= 0x60
		}
	}
	return b
}

// conn is one connection's decoding state.
type conn struct {
	dec    *escpos.Decoder
	lines  int // lines of dec's document already handled
	events int
	cur    *Receipt
}

// Serve reads ESC/POS from rw until it fails, printing and answering as
// it goes. A receipt cut short by the end of the stream is kept as lost.
func (p *Printer) Serve(rw io.ReadWriter) error {
	c := &conn{dec: escpos.NewDecoder(p.cfg.Pages...)}
	buf := make([]byte, 4096)
	for {
		n, err := rw.Read(buf)
		if n > 0 {
			p.feed(c, rw, buf[:n])
		}
		if err != nil {
			p.mu.Lock()
			if c.cur != nil && !c.cur.empty() {
				p.keep(&p.lost, c.cur)
			}
			p.mu.Unlock()
			return err
		}
	}
}

func (p *Printer) feed(c *conn, w io.Writer, data []byte) {
	_, derr := c.dec.Write(data)
	var replies []byte
	p.mu.Lock()
	doc := c.dec.Document()
	if c.cur == nil {
		c.cur = &Receipt{Dots: p.cfg.Dots}
	}
	takeLines := func(upto int) {
		for ; c.lines < upto && c.lines < len(doc.Lines); c.lines++ {
			c.cur.add(doc.Lines[c.lines], p.state == Ready)
		}
	}
	for ; c.events < len(doc.Events); c.events++ {
		e := doc.Events[c.events]
		takeLines(e.Line)
		if p.state == NoReply {
			continue
		}
		switch e.Kind {
		case escpos.EventStatusQuery:
			p.queries++
			replies = append(replies, p.statusByte(e.Query))
		case escpos.EventPulse:
			// A real-time kick (DLE DC4) fires whatever the paper does,
			// and prints nothing: it loses no part of the receipt being
			// built, which a kick between two receipts would otherwise
			// mark lost (and with it the next receipt on this link).
			fired := e.Realtime || p.state == Ready
			if fired {
				p.drawer.kick(e.Realtime)
			}
			c.cur.event(e, fired)
		case escpos.EventCut:
			c.cur.event(e, p.state == Ready)
			p.seq++
			c.cur.Seq = p.seq
			if c.cur.lostPart {
				p.keep(&p.lost, c.cur)
			} else {
				p.keep(&p.receipts, c.cur)
			}
			c.cur = &Receipt{Dots: p.cfg.Dots}
		default:
			c.cur.event(e, p.state == Ready)
		}
	}
	takeLines(len(doc.Lines))
	if derr != nil {
		p.errs = append(p.errs, derr)
		if len(p.errs) > 100 {
			p.errs = p.errs[1:]
		}
		c.dec = escpos.NewDecoder(p.cfg.Pages...)
		c.lines, c.events = 0, 0
	}
	p.mu.Unlock()
	if len(replies) > 0 {
		w.Write(replies)
	}
}

func (p *Printer) keep(list *[]*Receipt, r *Receipt) {
	*list = append(*list, r)
	if n := len(*list) - p.cfg.Keep; n > 0 {
		*list = (*list)[n:]
	}
}

// Drawer is a simulated cash drawer.
type Drawer struct {
	mu       sync.Mutex
	open     bool
	kicks    int
	realtime int
}

func (d *Drawer) kick(realtime bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.open = true
	d.kicks++
	if realtime {
		d.realtime++
	}
}

// IsOpen reports whether the drawer is open.
func (d *Drawer) IsOpen() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.open
}

// Kicks returns how many kicks opened the drawer, and how many of them
// were real-time (DLE DC4).
func (d *Drawer) Kicks() (total, realtime int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.kicks, d.realtime
}

// Shut closes the drawer, as a cashier does.
func (d *Drawer) Shut() {
	d.mu.Lock()
	d.open = false
	d.mu.Unlock()
}

// Receipt is what a simulated printer printed between two cuts.
type Receipt struct {
	Seq    int // order of the cut among the printer's receipts
	Dots   int
	Lines  []escpos.Line
	Events []escpos.Event // Line counts this receipt's lines before the event

	lostPart bool
}

func (r *Receipt) empty() bool { return len(r.Lines) == 0 && len(r.Events) == 0 }

func (r *Receipt) add(l escpos.Line, printing bool) {
	r.Lines = append(r.Lines, l)
	r.lostPart = r.lostPart || !printing
}

func (r *Receipt) event(e escpos.Event, printing bool) {
	e.Line = len(r.Lines)
	r.Events = append(r.Events, e)
	r.lostPart = r.lostPart || !printing
}

// Document is what the receipt printed, with its raster images that
// are lines of text (hw/receipt prints a line the code page lacks a
// character of as one) read back as Lines whose Image is set.
func (r *Receipt) Document() *escpos.Document {
	d := &escpos.Document{Lines: r.Lines, Events: r.Events}
	if f, err := glyph.Default(); err == nil {
		return f.Transcribe(d)
	}
	return d
}

// Text returns the receipt's lines, raster lines read back, each
// followed by a newline.
func (r *Receipt) Text() string { return r.Document().Text() }

// String renders lines and events in order, as escpos.Document does;
// raster lines read back show as `text raster "..."`.
func (r *Receipt) String() string { return r.Document().String() }

// IsCopy reports whether the receipt is marked as a copy, in any
// language.
func (r *Receipt) IsCopy() bool {
	for _, l := range r.Document().Lines {
		if receipt.IsCopyMark(l.Text) {
			return true
		}
	}
	return false
}

// QR returns the payloads of the native QR codes on the receipt.
func (r *Receipt) QR() []string {
	var out []string
	for _, e := range r.Events {
		if e.Kind == escpos.EventQR {
			out = append(out, e.Data)
		}
	}
	return out
}

// Barcodes returns the data of the barcodes on the receipt.
func (r *Receipt) Barcodes() []string {
	var out []string
	for _, e := range r.Events {
		if e.Kind == escpos.EventBarcode {
			out = append(out, e.Data)
		}
	}
	return out
}

// Raster returns the receipt's raster images with consecutive bands of
// the same width joined, as the paper shows them.
func (r *Receipt) Raster() []*escpos.Raster {
	var out []*escpos.Raster
	prevLine := -1
	for _, e := range r.Events {
		if e.Kind != escpos.EventRaster || e.Raster == nil {
			prevLine = -1
			continue
		}
		if n := len(out); n > 0 && prevLine == e.Line && out[n-1].Width == e.Raster.Width {
			last := out[n-1]
			last.Pix = append(last.Pix, e.Raster.Pix...)
			last.Height += e.Raster.Height
		} else {
			out = append(out, &escpos.Raster{Width: e.Raster.Width, Height: e.Raster.Height, Pix: append([]byte(nil), e.Raster.Pix...)})
		}
		prevLine = e.Line
	}
	return out
}
