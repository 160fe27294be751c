package hw

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tillmesh/tillmesh/hw/display"
	"github.com/tillmesh/tillmesh/hw/escpos"
	"github.com/tillmesh/tillmesh/hw/receipt"
)

// File is a till's device configuration, as JSON:
//
//	{"devices": [
//	  {"name": "receipt", "kind": "printer", "transport": "serial",
//	   "usb": {"vid": "0416", "pid": "5011", "serial": "A1"},
//	   "serial": {"baud": 38400},
//	   "printer": {"paper": 80, "code_page": "cp858", "qr": "native"},
//	   "drawer": {"pin": 2, "on_ms": 100, "off_ms": 500, "polarity": "open_when_high"}},
//	  {"name": "scanner", "kind": "scanner", "transport": "serial",
//	   "path": "/dev/serial/by-id/usb-Datalogic_Scanner_S123-if00"},
//	  {"name": "pole", "kind": "display", "transport": "serial", "usb": {"vid": "067b", "pid": "2303"},
//	   "display": {"protocol": "cd5220"}},
//	  {"name": "scale", "kind": "scale", "transport": "serial", "usb": {"vid": "0403", "pid": "6001"},
//	   "serial": {"baud": 9600, "data_bits": 7, "parity": "even"}, "scale": {"protocol": "toledo"}}
//	]}
//
// A network printer is {"kind": "printer", "transport": "tcp", "host":
// "192.168.1.50"}; a USB printer-class one is {"transport": "usblp",
// "usb": {...}}. Devices are matched by USB IDs (through sysfs) or a
// stable path such as /dev/serial/by-id, never by /dev/ttyUSB0, whose
// number changes when devices are replugged.
type File struct {
	Devices []DeviceConfig `json:"devices"`
}

// LoadFile reads and validates a device configuration file. Unknown
// fields are errors, so that a typo does not silently fall back to a
// default.
func LoadFile(path string) (File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return File{}, fmt.Errorf("read device config: %w", err)
	}
	return ParseFile(b)
}

// ParseFile decodes and validates a device configuration.
func ParseFile(b []byte) (File, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return File{}, fmt.Errorf("device config: %v: %w", err, ErrConfig)
	}
	return f, f.Validate()
}

// Validate checks every device and that names are unique and there is at
// most one device of each kind.
func (f File) Validate() error {
	names := map[string]bool{}
	kinds := map[Kind]string{}
	for i, d := range f.Devices {
		if err := d.Validate(); err != nil {
			return fmt.Errorf("device %d: %w", i+1, err)
		}
		if names[d.Name] {
			return fmt.Errorf("device %q named twice: %w", d.Name, ErrConfig)
		}
		names[d.Name] = true
		if other, ok := kinds[d.Kind]; ok {
			return fmt.Errorf("devices %q and %q are both a %s; a till has one of each: %w", other, d.Name, d.Kind, ErrConfig)
		}
		kinds[d.Kind] = d.Name
	}
	return nil
}

// Transport is how a device is reached.
type Transport string

const (
	TransportSerial Transport = "serial" // a serial or USB-serial port (go.bug.st/serial)
	TransportTCP    Transport = "tcp"    // raw TCP, port 9100 for printers
	TransportUSBLP  Transport = "usblp"  // a USB printer-class file, /dev/usb/lp*
	TransportSim    Transport = "sim"    // a simulator in this process (Open is set)
)

// DeviceConfig is one device of a till.
type DeviceConfig struct {
	Name      string       `json:"name"`
	Kind      Kind         `json:"kind"`
	Transport Transport    `json:"transport"`
	Path      string       `json:"path,omitempty"` // serial port or device file; prefer /dev/serial/by-id
	Host      string       `json:"host,omitempty"` // tcp: host or host:port
	USB       *USBID       `json:"usb,omitempty"`  // matched among the connected devices
	Serial    SerialConfig `json:"serial,omitzero"`
	Timeouts  TimeoutsMS   `json:"timeouts,omitzero"`

	Printer *PrinterOptions `json:"printer,omitempty"`
	Drawer  *DrawerOptions  `json:"drawer,omitempty"` // a drawer wired to this printer
	Display *DisplayOptions `json:"display,omitempty"`
	Scale   *ScaleOptions   `json:"scale,omitempty"`
	Scanner *ScannerOptions `json:"scanner,omitempty"`

	// Open, if set, is used instead of the transport: simulators and
	// tests set it.
	Open Opener `json:"-"`
}

// TimeoutsMS overrides a device's timeouts, in milliseconds.
type TimeoutsMS struct {
	Open   int `json:"open,omitempty"`
	Write  int `json:"write,omitempty"`
	Status int `json:"status,omitempty"`
}

func (t TimeoutsMS) timeouts() Timeouts {
	d := DefaultTimeouts()
	if t.Open > 0 {
		d.Open = time.Duration(t.Open) * time.Millisecond
	}
	if t.Write > 0 {
		d.Write = time.Duration(t.Write) * time.Millisecond
	}
	if t.Status > 0 {
		d.Status = time.Duration(t.Status) * time.Millisecond
	}
	return d
}

// PrinterOptions describe a receipt printer.
type PrinterOptions struct {
	Paper   int `json:"paper,omitempty"`   // 58 or 80 (mm); default 80
	Columns int `json:"columns,omitempty"` // default 32 on 58 mm, 48 on 80 mm
	Dots    int `json:"dots,omitempty"`    // default 384 on 58 mm, 576 on 80 mm
	// CodePage is the character set (cp437, cp858, wpc1252, ...);
	// CodeTable the ESC t number this printer gives it, if not Epson's.
	CodePage  string `json:"code_page,omitempty"`
	CodeTable *int   `json:"code_table,omitempty"`
	// KeepKanji leaves out FS . after ESC @; by default it is sent, for
	// the many printers that start in a Chinese double-byte mode.
	KeepKanji bool   `json:"keep_kanji,omitempty"`
	QR        string `json:"qr,omitempty"`  // native (default) or raster
	Cut       string `json:"cut,omitempty"` // partial (default), full or none
	Feed      *int   `json:"feed,omitempty"`
	// Decimal replaces the decimal mark of the store's language: "." or
	// ","; empty (the default) keeps the language's.
	Decimal string `json:"decimal,omitempty"`
	// NoStatus is for a one-way link: no DLE EOT replies, print blind.
	NoStatus bool `json:"no_status,omitempty"`
}

// DrawerOptions describe the cash drawer wired to a printer.
type DrawerOptions struct {
	Pin      int    `json:"pin,omitempty"`      // 2 (default) or 5
	OnMS     int    `json:"on_ms,omitempty"`    // default 100
	OffMS    int    `json:"off_ms,omitempty"`   // default 500
	Polarity string `json:"polarity,omitempty"` // open_when_high (default) or open_when_low
	// Realtime: DLE DC4 (default true); false sends ESC p after a status
	// check, for printers without real-time commands.
	Realtime *bool `json:"realtime,omitempty"`
}

// DisplayOptions describe a customer display.
type DisplayOptions struct {
	Protocol  string `json:"protocol,omitempty"` // epson (default) or cd5220
	Columns   int    `json:"columns,omitempty"`  // default 20
	CodePage  string `json:"code_page,omitempty"`
	CodeTable *int   `json:"code_table,omitempty"`
	ASCII     bool   `json:"ascii,omitempty"` // show only ASCII
}

// ScaleOptions describe a scale.
type ScaleOptions struct {
	Protocol string `json:"protocol"`       // cas or toledo
	Unit     string `json:"unit,omitempty"` // toledo: kg (default) or lb
}

// ScannerOptions describe a serial scanner.
type ScannerOptions struct {
	MaxLine int `json:"max_line,omitempty"`
}

// Validate checks the device's fields, without looking for the device.
func (d DeviceConfig) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("device %q: %s: %w", d.Name, fmt.Sprintf(format, args...), ErrConfig)
	}
	if d.Name == "" {
		return bad("no name")
	}
	switch d.Kind {
	case KindPrinter, KindScanner, KindDisplay, KindScale:
	default:
		return bad("kind %q, want printer, scanner, display or scale", d.Kind)
	}
	if d.USB != nil {
		if err := d.USB.Validate(); err != nil {
			return bad("%v", err)
		}
	}
	switch d.Transport {
	case TransportSerial:
		if d.Path == "" && d.USB == nil {
			return bad("a serial device needs a path or usb ids")
		}
		if d.USB == nil && unstablePath.MatchString(d.Path) {
			return bad("path %s changes when devices are replugged: use /dev/serial/by-id/... or usb ids", d.Path)
		}
		if err := d.Serial.Validate(); err != nil {
			return bad("%v", err)
		}
	case TransportTCP:
		if d.Host == "" {
			return bad("a tcp device needs a host")
		}
		if d.Kind != KindPrinter {
			return bad("only printers are reached over tcp")
		}
	case TransportUSBLP:
		if d.Path == "" && d.USB == nil {
			return bad("a usb printer needs a path or usb ids")
		}
		if d.Kind != KindPrinter {
			return bad("only printers are usb printer-class devices")
		}
		if d.USB == nil && unstablePath.MatchString(d.Path) {
			return bad("path %s changes when devices are replugged: use usb ids", d.Path)
		}
	case TransportSim:
		if d.Open == nil {
			return bad("a simulated device is made in code, not in a file")
		}
	default:
		return bad("transport %q, want serial, tcp or usblp", d.Transport)
	}
	if d.Kind != KindPrinter && (d.Printer != nil || d.Drawer != nil) {
		return bad("printer and drawer options on a %s", d.Kind)
	}
	if d.Kind != KindDisplay && d.Display != nil || d.Kind != KindScale && d.Scale != nil || d.Kind != KindScanner && d.Scanner != nil {
		return bad("options of another kind of device")
	}
	switch d.Kind {
	case KindPrinter:
		if _, err := d.Layout(); err != nil {
			return bad("%v", err)
		}
		if _, err := d.drawer(); err != nil {
			return bad("%v", err)
		}
	case KindDisplay:
		if _, err := d.displayConfig(); err != nil {
			return bad("%v", err)
		}
	case KindScale:
		if d.Scale == nil || (d.Scale.Protocol != string(ScaleCAS) && d.Scale.Protocol != string(ScaleToledo)) {
			return bad("scale protocol: want cas or toledo")
		}
		if u := d.Scale.Unit; u != "" && u != "kg" && u != "lb" {
			return bad("scale unit %q: want kg or lb", u)
		}
	}
	return nil
}

func codePage(name string, table *int) (escpos.CodePage, error) {
	cs, err := escpos.ParseCharset(name)
	if err != nil {
		return escpos.CodePage{}, err
	}
	p := escpos.EpsonCodePage(cs)
	if table != nil {
		if *table < 0 || *table > 255 {
			return p, fmt.Errorf("code table %d outside 0..255", *table)
		}
		p.Table = byte(*table)
	}
	return p, nil
}

// Layout is how this printer prints receipts.
func (d DeviceConfig) Layout() (receipt.Layout, error) {
	o := PrinterOptions{}
	if d.Printer != nil {
		o = *d.Printer
	}
	var l receipt.Layout
	switch o.Paper {
	case 58:
		l = receipt.Layout58()
	case 80, 0:
		l = receipt.Layout80()
	default:
		return l, fmt.Errorf("paper %d mm: want 58 or 80", o.Paper)
	}
	if o.Columns != 0 {
		l.Columns = o.Columns
	}
	if o.Dots != 0 {
		l.Printer.DotsPerLine = o.Dots
	}
	if p, err := codePage(o.CodePage, o.CodeTable); err == nil {
		l.Printer.CodePage = p
	} else {
		// An unknown code page must not stop the receipts (CodePageProblem
		// says what is wrong): ASCII is the same in every table, so it
		// prints as text, in the table named if any, and every other
		// line as an image.
		l.ASCII = true
		l.Printer.CodePage = escpos.CodePage{Charset: escpos.CP437}
		if t := o.CodeTable; t != nil && *t >= 0 && *t <= 255 {
			l.Printer.CodePage.Table = byte(*t)
		}
	}
	l.Printer.CancelKanji = !o.KeepKanji
	switch strings.ToLower(o.QR) {
	case "", "native":
		l.Printer.QR = escpos.QRNative
	case "raster":
		l.Printer.QR = escpos.QRRaster
	default:
		return l, fmt.Errorf("qr %q: want native or raster", o.QR)
	}
	switch strings.ToLower(o.Cut) {
	case "", "partial":
		l.Cut = escpos.PartialCut
	case "full":
		l.Cut = escpos.FullCut
	case "none":
		l.NoCut = true
	default:
		return l, fmt.Errorf("cut %q: want partial, full or none", o.Cut)
	}
	if o.Feed != nil {
		l.Feed = *o.Feed
	}
	switch o.Decimal {
	case "": // the store's language's
	case ".":
		l.Decimal = '.'
	case ",":
		l.Decimal = ','
	default:
		return l, fmt.Errorf("decimal %q: want . or ,", o.Decimal)
	}
	return l, l.Validate()
}

// CodePageProblem says what is wrong with a printer's code page: one
// hw/escpos does not know, or a table number out of range. Such a
// printer still prints (Layout): ASCII as text, every other character
// in raster images of its lines.
func (d DeviceConfig) CodePageProblem() error {
	if d.Kind != KindPrinter || d.Printer == nil {
		return nil
	}
	if _, err := codePage(d.Printer.CodePage, d.Printer.CodeTable); err != nil {
		return fmt.Errorf("printer %q: %v: printing ASCII as text and every other character as images: %w", d.Name, err, ErrConfig)
	}
	return nil
}

func (d DeviceConfig) drawer() (DrawerConfig, error) {
	o := DrawerOptions{}
	if d.Drawer != nil {
		o = *d.Drawer
	}
	c := DrawerConfig{Pulse: escpos.DefaultPulse(), Realtime: o.Realtime == nil || *o.Realtime}
	switch o.Pin {
	case 0, 2:
	case 5:
		c.Pulse.Pin = escpos.Pin5
	default:
		return c, fmt.Errorf("drawer pin %d: want 2 or 5", o.Pin)
	}
	if o.OnMS < 0 || o.OffMS < 0 || o.OnMS > 1000 || o.OffMS > 1000 {
		return c, fmt.Errorf("drawer pulse %d/%d ms: want 1..1000", o.OnMS, o.OffMS)
	}
	if o.OnMS > 0 {
		c.Pulse.On = time.Duration(o.OnMS) * time.Millisecond
	}
	if o.OffMS > 0 {
		c.Pulse.Off = time.Duration(o.OffMS) * time.Millisecond
	}
	switch o.Polarity {
	case "", "open_when_high":
		c.Polarity = escpos.OpenWhenHigh
	case "open_when_low":
		c.Polarity = escpos.OpenWhenLow
	default:
		return c, fmt.Errorf("drawer polarity %q: want open_when_high or open_when_low", o.Polarity)
	}
	return c, nil
}

func (d DeviceConfig) displayConfig() (display.Config, error) {
	o := DisplayOptions{}
	if d.Display != nil {
		o = *d.Display
	}
	p, err := display.ParseProtocol(o.Protocol)
	if err != nil {
		return display.Config{}, err
	}
	cp, err := codePage(o.CodePage, o.CodeTable)
	if err != nil {
		return display.Config{}, err
	}
	c := display.Config{Protocol: p, Columns: o.Columns, CodePage: cp, ASCII: o.ASCII}
	return c, c.Validate()
}

// Env is where devices are looked for. The zero value looks on this
// machine: go.bug.st/serial's enumerator and /sys.
type Env struct {
	ListPorts PortLister
	SysRoot   string
}

func (e Env) withDefaults() Env {
	if e.ListPorts == nil {
		e.ListPorts = ListPorts
	}
	if e.SysRoot == "" {
		e.SysRoot = "/sys"
	}
	return e
}

// Opener returns how to open the device. The device's path is resolved
// on every open, so a replugged device is found again.
func (d DeviceConfig) Opener(env Env) (Opener, error) {
	if d.Open != nil {
		return d.Open, nil
	}
	env = env.withDefaults()
	switch d.Transport {
	case TransportSerial:
		path := func() (string, error) {
			if d.USB != nil {
				return FindSerial(env.ListPorts, *d.USB)
			}
			return d.Path, nil
		}
		return SerialOpener(path, d.Serial), nil
	case TransportTCP:
		return TCPOpener(d.Host, d.Timeouts.timeouts().Open), nil
	case TransportUSBLP:
		path := func() (string, error) {
			if d.USB != nil {
				return FindLP(env.SysRoot, *d.USB)
			}
			return d.Path, nil
		}
		return FileOpener(path), nil
	}
	return nil, fmt.Errorf("device %q: transport %q: %w", d.Name, d.Transport, ErrConfig)
}

// NewPrinterFrom builds the printer driver a printer device describes.
func NewPrinterFrom(d DeviceConfig, env Env, now func() time.Time, notify func()) (*ESCPOSPrinter, error) {
	if d.Kind != KindPrinter {
		return nil, fmt.Errorf("device %q is a %s, not a printer: %w", d.Name, d.Kind, ErrConfig)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	open, err := d.Opener(env)
	if err != nil {
		return nil, err
	}
	dc, _ := d.drawer() // validated
	cfg := PrinterConfig{Name: d.Name, Open: open, PerJob: d.Transport == TransportTCP, Drawer: dc,
		Timeouts: d.Timeouts.timeouts(), Now: now, Notify: notify}
	if d.Printer != nil {
		cfg.NoStatus = d.Printer.NoStatus
	}
	if d.Transport == TransportSerial {
		cfg.BytesPerSecond = d.Serial.BytesPerSecond()
	}
	return NewPrinter(cfg)
}
