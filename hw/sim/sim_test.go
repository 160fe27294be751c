package sim_test

import (
	"bytes"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/hw/escpos"
	"github.com/tillmesh/tillmesh/hw/receipt"
	"github.com/tillmesh/tillmesh/hw/sim"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

func testReceipt(t *testing.T) receipt.Receipt {
	t.Helper()
	till := ledgertest.NewTill(ledger.StoreID{5}, 2, 9)
	ev, err := till.Next(ledgertest.Sale3(), time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC).UnixMilli(), "k")
	if err != nil {
		t.Fatal(err)
	}
	r, err := receipt.FromSale(ev, receipt.Info{Store: "Épicerie Tillmesh", Number: 9, Receipt: 1, Footer: []string{"Merci !"}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// feed sends a printout to a simulated printer through a pipe, in pieces.
func feed(t *testing.T, p *sim.Printer, data []byte) {
	t.Helper()
	host, dev := sim.Pipe()
	done := make(chan error, 1)
	go func() { done <- p.Serve(dev) }()
	for i := 0; i < len(data); i += 100 {
		if _, err := host.Write(data[i:min(i+100, len(data))]); err != nil {
			t.Fatal(err)
		}
	}
	host.Close()
	if err := <-done; err != io.EOF {
		t.Fatalf("serve: %v", err)
	}
}

func TestPrinterParsesReceipt(t *testing.T) {
	r := testReceipt(t)
	for _, l := range []receipt.Layout{receipt.Layout58(), receipt.Layout80()} {
		l.Printer.CodePage = escpos.EpsonCodePage(escpos.CP858)
		out, err := receipt.Render(r, l, false)
		if err != nil {
			t.Fatal(err)
		}
		p := sim.NewPrinter(sim.PrinterConfig{Dots: l.Printer.DotsPerLine})
		feed(t, p, out.Bytes())
		got := p.Receipts()
		if len(got) != 1 || len(p.Lost()) != 0 || len(p.Errors()) != 0 {
			t.Fatalf("%d receipts, %d lost, errors %v", len(got), len(p.Lost()), p.Errors())
		}
		text := got[0].Text()
		for _, want := range []string{"Épicerie", "Milk 1L", "Batteries AA", "1.234 kg x 2.99/kg", "TOTAL", "€12.06", "Change", "€7.94", "Merci !"} {
			if !strings.Contains(text, want) {
				t.Errorf("%d columns: no %q in\n%s", l.Columns, want, text)
			}
		}
		if bc := got[0].Barcodes(); len(bc) != 1 || bc[0] != ledger.ReceiptCode(9, 1) {
			t.Errorf("barcodes %q", bc)
		}
		qr := got[0].QR()
		if len(qr) != 1 {
			t.Fatalf("qr %q", qr)
		}
		id, sig, err := receipt.ParseQR(qr[0])
		if err != nil || id != r.EventID || !bytes.Equal(sig, r.Sig) {
			t.Errorf("qr %q: %v", qr[0], err)
		}
		img := got[0].Image()
		if img.Bounds().Dx() != l.Printer.DotsPerLine || img.Bounds().Dy() < 400 {
			t.Errorf("image %v", img.Bounds())
		}
	}
}

// TestReceiptPNGScans renders a receipt whose QR code is a raster image,
// and one with a native QR code, to PNG, and reads the QR codes back
// with zbarimg: the payload carries the EventID and the signature.
func TestReceiptPNGScans(t *testing.T) {
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Skip("zbarimg not installed (apt-get install zbar-tools)")
	}
	r := testReceipt(t)
	for _, mode := range []escpos.QRMode{escpos.QRRaster, escpos.QRNative} {
		l := receipt.Layout58()
		l.Printer.QR = mode
		out, err := receipt.Render(r, l, true)
		if err != nil {
			t.Fatal(err)
		}
		p := sim.NewPrinter(sim.PrinterConfig{Dots: 384})
		feed(t, p, out.Bytes())
		if len(p.Receipts()) != 1 || !p.Receipts()[0].IsCopy() {
			t.Fatalf("receipts %d", len(p.Receipts()))
		}
		b, err := p.Receipts()[0].PNG()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "receipt.png")
		os.WriteFile(path, b, 0o644)
		got, err := exec.CommandContext(t.Context(), zbar, "-q", "--raw", "-Sdisable", "-Sqrcode.enable", path).Output()
		if err != nil {
			t.Fatalf("zbarimg: %v", err)
		}
		if want := receipt.QRPayload("", r.EventID, r.Sig); strings.TrimSpace(string(got)) != want {
			t.Errorf("qr mode %d: scanned %q, want %q", mode, got, want)
		}
	}
}

// An Uzbek receipt's lines with ʻ reach the simulated printer as raster
// images: its text shows them read back, and its PNG shows them as
// printed, dot for dot.
func TestPrinterShowsRasterLines(t *testing.T) {
	till := ledgertest.NewTill(ledger.StoreID{5}, 2, 9)
	sale := &ledger.Sale{Currency: "UZS", TaxIncluded: true, Staff: "aziz",
		Lines:   []ledger.Line{{SKU: "1", Name: "Sovgʻa qutisi", Qty: 1, UnitPrice: 95000, TaxRate: 1200}},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 100000}}, Change: 5000}
	ev, err := till.Next(sale, time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC).UnixMilli(), "k")
	if err != nil {
		t.Fatal(err)
	}
	r, err := receipt.FromSale(ev, receipt.Info{Store: "Baraka", Number: 9, Receipt: 1, Lang: i18n.Uzbek})
	if err != nil {
		t.Fatal(err)
	}
	l := receipt.Layout58()
	l.Printer.CodePage = escpos.EpsonCodePage(escpos.CP866)
	out, err := receipt.Render(r, l, true)
	if err != nil {
		t.Fatal(err)
	}
	p := sim.NewPrinter(sim.PrinterConfig{Dots: 384})
	feed(t, p, out.Bytes())
	if len(p.Receipts()) != 1 {
		t.Fatalf("%d receipts, errors %v", len(p.Receipts()), p.Errors())
	}
	got := p.Receipts()[0]
	for _, want := range []string{`text raster "Sovgʻa qutisi`, `text raster bold 1x2 "JAMI`, "95 000 soʻm", `text raster "Qaytim`, "5 000 soʻm", "NUSXA"} {
		if !strings.Contains(got.String(), want) {
			t.Errorf("no %q in\n%s", want, got.String())
		}
	}
	if !got.IsCopy() || strings.Contains(got.Text(), "?") {
		t.Errorf("copy %v, text:\n%s", got.IsCopy(), got.Text())
	}
	// The PNG has the raster line's dots exactly where the text drew them.
	img := got.Image()
	var line *escpos.Line
	y := 0
	for _, l := range got.Document().Lines {
		if l.Image != nil && strings.HasPrefix(l.Text, "Sovgʻa") {
			line = &l
			break
		}
	}
	if line == nil {
		t.Fatal("no raster line")
	}
	for y = 0; y+line.Image.Height <= img.Bounds().Dy(); y++ {
		match := true
		for yy := 0; yy < line.Image.Height && match; yy++ {
			for x := 0; x < line.Image.Width; x++ {
				if (img.GrayAt(x, y+yy).Y == 0) != line.Image.Black(x, yy) {
					match = false
					break
				}
			}
		}
		if match {
			return
		}
	}
	t.Error("the PNG does not show the raster line's dots")
}

func TestPrinterStates(t *testing.T) {
	out, err := receipt.Render(testReceipt(t), receipt.Layout80(), false)
	if err != nil {
		t.Fatal(err)
	}
	p := sim.NewPrinter(sim.PrinterConfig{})
	p.SetState(sim.PaperOut)
	feed(t, p, out.Bytes())
	if len(p.Receipts()) != 0 || len(p.Lost()) != 1 {
		t.Errorf("paper out: %d printed, %d lost", len(p.Receipts()), len(p.Lost()))
	}
	// Status replies, asked one at a time as a driver does.
	host, dev := sim.Pipe()
	go p.Serve(dev)
	defer host.Close()
	ask := func(q byte) byte {
		t.Helper()
		host.Write([]byte{0x10, 0x04, q})
		host.SetReadDeadline(time.Now().Add(5 * time.Second))
		var b [1]byte
		if _, err := host.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		return b[0]
	}
	for _, tc := range []struct {
		state sim.PrinterState
		q     escpos.StatusQuery
		check func(escpos.Status) bool
	}{
		{sim.PaperOut, escpos.PaperStatus, func(s escpos.Status) bool { return s.PaperOut == escpos.Yes }},
		{sim.PaperOut, escpos.PrinterStatus, func(s escpos.Status) bool { return s.Offline == escpos.Yes }},
		{sim.CoverOpen, escpos.OfflineCause, func(s escpos.Status) bool { return s.CoverOpen == escpos.Yes }},
		{sim.Ready, escpos.PrinterStatus, func(s escpos.Status) bool { return s.Offline == escpos.No && s.DrawerOpen == escpos.No }},
		{sim.Ready, escpos.PaperStatus, func(s escpos.Status) bool { return s.PaperOut == escpos.No }},
	} {
		p.SetState(tc.state)
		st, err := escpos.DecodeStatus(tc.q, []byte{ask(byte(tc.q))}, escpos.OpenWhenHigh)
		if err != nil || !tc.check(st) {
			t.Errorf("%v, query %v: %v, %v", tc.state, tc.q, st, err)
		}
	}
}

// A real-time drawer kick while the paper is out fires the drawer and
// prints nothing: the next receipt on the same link, printed once the
// paper is back, is kept whole, not lost with it.
func TestKickWhilePaperOutLosesNoReceipt(t *testing.T) {
	out, err := receipt.Render(testReceipt(t), receipt.Layout80(), false)
	if err != nil {
		t.Fatal(err)
	}
	kick, err := escpos.NewBuilder(escpos.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := kick.RealtimePulse(escpos.Pin2, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	p := sim.NewPrinter(sim.PrinterConfig{})
	p.SetState(sim.PaperOut)
	host, dev := sim.Pipe()
	done := make(chan error, 1)
	go func() { done <- p.Serve(dev) }()
	if _, err := host.Write(kick.Bytes()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for n, _ := p.Drawer().Kicks(); n != 1; n, _ = p.Drawer().Kicks() {
		if time.Now().After(deadline) {
			t.Fatalf("the real-time kick did not fire with the paper out (%d kicks)", n)
		}
		time.Sleep(time.Millisecond)
	}
	p.SetState(sim.Ready)
	if _, err := host.Write(out.Bytes()); err != nil {
		t.Fatal(err)
	}
	host.Close()
	if err := <-done; err != io.EOF {
		t.Fatalf("serve: %v", err)
	}
	if len(p.Receipts()) != 1 || len(p.Lost()) != 0 {
		t.Fatalf("after a kick with the paper out: %d printed, %d lost; want 1 printed", len(p.Receipts()), len(p.Lost()))
	}
}
