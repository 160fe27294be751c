package hw_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.bug.st/serial/enumerator"

	"github.com/tillmesh/tillmesh/hw"
	"github.com/tillmesh/tillmesh/hw/escpos"
	"github.com/tillmesh/tillmesh/hw/receipt"
	"github.com/tillmesh/tillmesh/hw/sim"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

const exampleConfig = `{"devices": [
  {"name": "receipt", "kind": "printer", "transport": "serial",
   "usb": {"vid": "0416", "pid": "5011", "serial": "A1"},
   "serial": {"baud": 38400},
   "printer": {"paper": 58, "code_page": "cp858", "qr": "raster", "decimal": ","},
   "drawer": {"pin": 5, "on_ms": 120, "off_ms": 480, "polarity": "open_when_low", "realtime": false}},
  {"name": "scanner", "kind": "scanner", "transport": "serial", "path": "/dev/serial/by-id/usb-Datalogic_Scanner_S123-if00"},
  {"name": "pole", "kind": "display", "transport": "serial", "usb": {"vid": "067b", "pid": "2303"},
   "display": {"protocol": "cd5220", "ascii": true}},
  {"name": "scale", "kind": "scale", "transport": "serial", "usb": {"vid": "0403", "pid": "6001"},
   "serial": {"baud": 9600, "data_bits": 7, "parity": "even"}, "scale": {"protocol": "toledo"}}
]}`

func TestParseFile(t *testing.T) {
	f, err := hw.ParseFile([]byte(exampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Devices) != 4 {
		t.Fatalf("%d devices", len(f.Devices))
	}
	l, err := f.Devices[0].Layout()
	if err != nil {
		t.Fatal(err)
	}
	if l.Columns != 32 || l.Printer.DotsPerLine != 384 || l.Printer.CodePage != escpos.EpsonCodePage(escpos.CP858) ||
		l.Printer.QR != escpos.QRRaster || l.Decimal != ',' || !l.Printer.CancelKanji {
		t.Errorf("layout %+v", l)
	}
	// A file with a typo is refused, not half applied.
	if _, err := hw.ParseFile([]byte(`{"devices": [{"name": "p", "kind": "printer", "transport": "tcp", "host": "x", "printr": {}}]}`)); !errors.Is(err, hw.ErrConfig) {
		t.Errorf("unknown field: %v", err)
	}
}

func TestConfigRejects(t *testing.T) {
	for name, js := range map[string]string{
		"ttyUSB path":     `{"name": "p", "kind": "printer", "transport": "serial", "path": "/dev/ttyUSB0"}`,
		"lp path":         `{"name": "p", "kind": "printer", "transport": "usblp", "path": "/dev/usb/lp0"}`,
		"no path":         `{"name": "p", "kind": "scanner", "transport": "serial"}`,
		"bad vid":         `{"name": "p", "kind": "scanner", "transport": "serial", "usb": {"vid": "xyz", "pid": "0001"}}`,
		"tcp scanner":     `{"name": "p", "kind": "scanner", "transport": "tcp", "host": "h"}`,
		"bad paper":       `{"name": "p", "kind": "printer", "transport": "tcp", "host": "h", "printer": {"paper": 70}}`,
		"bad pin":         `{"name": "p", "kind": "printer", "transport": "tcp", "host": "h", "drawer": {"pin": 3}}`,
		"bad polarity":    `{"name": "p", "kind": "printer", "transport": "tcp", "host": "h", "drawer": {"polarity": "up"}}`,
		"scale protocol":  `{"name": "s", "kind": "scale", "transport": "serial", "path": "/dev/ttyS0", "scale": {"protocol": "x"}}`,
		"display options": `{"name": "s", "kind": "scanner", "transport": "serial", "path": "/dev/ttyS0", "display": {}}`,
		"parity":          `{"name": "s", "kind": "scanner", "transport": "serial", "path": "/dev/ttyS0", "serial": {"parity": "mark"}}`,
		"sim in a file":   `{"name": "s", "kind": "scanner", "transport": "sim"}`,
	} {
		if _, err := hw.ParseFile([]byte(`{"devices": [` + js + `]}`)); !errors.Is(err, hw.ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
	two := `{"devices": [{"name": "a", "kind": "printer", "transport": "tcp", "host": "h"}, {"name": "b", "kind": "printer", "transport": "tcp", "host": "i"}]}`
	if _, err := hw.ParseFile([]byte(two)); !errors.Is(err, hw.ErrConfig) {
		t.Errorf("two printers: %v", err)
	}
}

func TestFindSerial(t *testing.T) {
	ports := []*enumerator.PortDetails{
		{Name: "/dev/ttyS0"},
		{Name: "/dev/ttyUSB0", IsUSB: true, VID: "0403", PID: "6001", SerialNumber: "SCALE1"},
		{Name: "/dev/ttyUSB1", IsUSB: true, VID: "0403", PID: "6001", SerialNumber: "POLE2"},
		{Name: "/dev/ttyACM0", IsUSB: true, VID: "0416", PID: "5011", SerialNumber: "A1"},
	}
	list := func() ([]*enumerator.PortDetails, error) { return ports, nil }
	for _, tc := range []struct {
		id   hw.USBID
		want string
		err  error
	}{
		{hw.USBID{VID: "0416", PID: "5011"}, "/dev/ttyACM0", nil},
		{hw.USBID{VID: "0403", PID: "6001", Serial: "POLE2"}, "/dev/ttyUSB1", nil},
		{hw.USBID{VID: "0403", PID: "6001"}, "", hw.ErrAmbiguous},
		{hw.USBID{VID: "1234", PID: "5678"}, "", hw.ErrNotFound},
	} {
		got, err := hw.FindSerial(list, tc.id)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("FindSerial(%v) = %q, %v; want %q, %v", tc.id, got, err, tc.want, tc.err)
		}
	}
}

// fakeLP builds the sysfs entries of a USB printer: the usbmisc class
// link to the interface, whose parent is the USB device with its IDs.
func fakeLP(t *testing.T, root, name, vid, pid, serial string) {
	t.Helper()
	dev := filepath.Join(root, "devices", "usb1", "1-"+name)
	iface := filepath.Join(dev, "1-"+name+":1.0")
	class := filepath.Join(root, "class", "usbmisc", name)
	for _, d := range []string{iface, class} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for f, v := range map[string]string{"idVendor": vid, "idProduct": pid, "serial": serial, "product": "TM-T20"} {
		os.WriteFile(filepath.Join(dev, f), []byte(v+"\n"), 0o644)
	}
	if err := os.Symlink(iface, filepath.Join(class, "device")); err != nil {
		t.Fatal(err)
	}
}

func TestFindLP(t *testing.T) {
	root := t.TempDir()
	fakeLP(t, root, "lp0", "04b8", "0e28", "X1")
	fakeLP(t, root, "lp1", "0416", "5011", "")
	got, err := hw.FindLP(root, hw.USBID{VID: "04B8", PID: "0E28"})
	if err != nil || got != "/dev/usb/lp0" {
		t.Errorf("FindLP = %q, %v", got, err)
	}
	if _, err := hw.FindLP(root, hw.USBID{VID: "04b8", PID: "0e28", Serial: "X2"}); !errors.Is(err, hw.ErrNotFound) {
		t.Errorf("wrong serial: %v", err)
	}
	devs, _ := hw.ListLP(root)
	if len(devs) != 2 || devs[0].Product != "TM-T20" {
		t.Errorf("ListLP = %+v", devs)
	}
}

// TestUSBLPTransport prints through the usblp transport: the device file
// is opened as a plain file (here a pseudo-terminal's slave).
func TestUSBLPTransport(t *testing.T) {
	sp := sim.NewPrinter(sim.PrinterConfig{})
	pt, err := sim.NewPTY(sp, filepath.Join(t.TempDir(), "lp"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pt.Close() })
	target, _ := os.Readlink(pt.Path())
	d := hw.DeviceConfig{Name: "usb", Kind: hw.KindPrinter, Transport: hw.TransportUSBLP, Path: target, Timeouts: statusFast}
	p, err := hw.NewPrinterFrom(d, hw.Env{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Print(t.Context(), render(t, saleReceipt(t, "USB"), false)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the receipt", func() bool { return len(sp.Receipts()) == 1 })
}

// TestFileWriteDeadline: a device file whose reader stopped (an offline
// USB printer) makes a write time out instead of blocking.
func TestFileWriteDeadline(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "lp")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	open := hw.FileOpener(func() (string, error) { return fifo, nil })
	l, err := open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	_, err = l.Write(make([]byte, 1<<20)) // more than the pipe holds
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write to a stalled device file: %v", err)
	}
	if _, err := hw.FileOpener(func() (string, error) { return "", hw.ErrNotFound })(t.Context()); !errors.Is(err, hw.ErrNotFound) {
		t.Errorf("missing device: %v", err)
	}
}

func TestSerialConfigSpeed(t *testing.T) {
	if got := (hw.SerialConfig{}).BytesPerSecond(); got != 960 {
		t.Errorf("9600 8N1: %d bytes/s", got)
	}
	if got := (hw.SerialConfig{Baud: 9600, DataBits: 7, Parity: "even"}).BytesPerSecond(); got != 960 {
		t.Errorf("9600 7E1: %d bytes/s", got)
	}
	if err := (hw.SerialConfig{DataBits: 5}).Validate(); !errors.Is(err, hw.ErrConfig) || !strings.Contains(err.Error(), "data bits") {
		t.Errorf("5 data bits: %v", err)
	}
}

// A printer configured with a code page hw/escpos does not know is a
// clear error that stops nothing: the configuration loads, the problem
// names the code page, and a Russian receipt prints with ASCII as text
// and every Cyrillic line as an image, no "?".
func TestUnknownCodePagePrintsAsImages(t *testing.T) {
	f, err := hw.ParseFile([]byte(`{"devices": [{"name": "p", "kind": "printer", "transport": "tcp", "host": "h",
		"printer": {"paper": 58, "code_page": "cp1125", "code_table": 44}}]}`))
	if err != nil {
		t.Fatalf("a printer with an unknown code page is refused: %v", err)
	}
	d := f.Devices[0]
	if err := d.CodePageProblem(); !errors.Is(err, hw.ErrConfig) || !strings.Contains(err.Error(), "cp1125") {
		t.Errorf("problem %v, want one naming cp1125", err)
	}
	l, err := d.Layout()
	if err != nil || !l.ASCII || l.Printer.CodePage.Table != 44 {
		t.Fatalf("layout %+v %v, want ASCII only in table 44", l, err)
	}
	till := ledgertest.NewTill(ledger.StoreID{5}, 2, 9)
	sale := &ledger.Sale{Currency: "RUB", TaxIncluded: true, Staff: "ольга",
		Lines:   []ledger.Line{{SKU: "1", Name: "Хлеб", Qty: 1, UnitPrice: 5000, TaxRate: 1000}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 5000}}}
	ev, err := till.Next(sale, time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC).UnixMilli(), "k")
	if err != nil {
		t.Fatal(err)
	}
	r, err := receipt.FromSale(ev, receipt.Info{Store: "Shop", Number: 9, Receipt: 1, Lang: i18n.Russian})
	if err != nil {
		t.Fatal(err)
	}
	out, err := receipt.Render(r, l, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Unencodable) != 0 || !strings.ContainsRune(string(out.Rastered), 'Х') {
		t.Errorf("unencodable %q, rastered %q", string(out.Unencodable), string(out.Rastered))
	}
	p := sim.NewPrinter(sim.PrinterConfig{Dots: 384})
	host, dev := sim.Pipe()
	go func() { host.Write(out.Bytes()); host.Close() }()
	p.Serve(dev)
	if len(p.Receipts()) != 1 {
		t.Fatalf("%d receipts, errors %v", len(p.Receipts()), p.Errors())
	}
	text := p.Receipts()[0].String()
	for _, want := range []string{`text raster "Хлеб`, "Кассир ольга", "50,00 RUB", `text center bold 2x2 "Shop"`} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in\n%s", want, text)
		}
	}
	if strings.Contains(p.Receipts()[0].Text(), "?") {
		t.Errorf("printed '?':\n%s", text)
	}
}
