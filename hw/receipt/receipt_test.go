package receipt

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tillmesh/tillmesh/hw/escpos"
	"github.com/tillmesh/tillmesh/hw/glyph"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// hexDump writes bytes 16 to a line so that a golden diff is readable.
func hexDump(b []byte) string {
	var s strings.Builder
	for len(b) > 0 {
		n := min(16, len(b))
		s.WriteString(hex.EncodeToString(b[:n]))
		s.WriteByte('\n')
		b = b[n:]
	}
	return s.String()
}

var testStore = ledger.StoreID{1, 2, 3}

// testSale is a sale with every kind of line: several units, a weighed
// line, a line discount, a long name, two tax rates, a cart discount,
// cash with change and a card.
func testSale() *ledger.Sale {
	s := &ledger.Sale{
		Currency: "EUR", TaxIncluded: true, Staff: "anna",
		Lines: []ledger.Line{
			{SKU: "1001", Name: "Espresso", Qty: 2, UnitPrice: 250, TaxRate: 700},
			{SKU: "1002", Name: "Croissant au beurre", Qty: 1, UnitPrice: 240, Discount: 20, TaxRate: 700},
			{SKU: "3001", Name: "Pommes Golden Delicious, bio, de la ferme du Jorat", Qty: 1234, Unit: ledger.Kilogram, UnitPrice: 299, TaxRate: 700},
			{SKU: "2001", Name: "Piles AA", Qty: 1, UnitPrice: 599, TaxRate: 2000},
		},
		CartDiscount: 100,
	}
	tot, err := s.Totals()
	if err != nil {
		panic(err)
	}
	s.Tenders = []ledger.Tender{{Kind: ledger.Card, Amount: 1000, Ref: "A12345"}, {Kind: ledger.Cash, Amount: 2000}}
	s.Change = 3000 - tot.Total
	return s
}

func testEvent(t testing.TB) *ledger.Event {
	t.Helper()
	till := ledgertest.NewTill(testStore, 7, 3)
	till.Seq, till.Prev = 1041, ledger.EventID{9}
	ev, err := till.Next(testSale(), time.Date(2026, 3, 1, 13, 5, 0, 0, time.UTC).UnixMilli(), "k-1042")
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func testInfo() Info {
	loc := time.FixedZone("CET", 3600)
	return Info{Store: "Café Tillmesh", Header: []string{"Rue du Marché 4, 1204 Genève", "TVA CHE-123.456.789"},
		Footer: []string{"Merci et à bientôt !"}, Number: 3, Receipt: 41, Location: loc}
}

func testReceipt(t testing.TB) Receipt {
	t.Helper()
	r, err := FromSale(testEvent(t), testInfo())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func render(t testing.TB, r Receipt, l Layout, copy bool) (*Printout, *escpos.Document) {
	t.Helper()
	p, err := Render(r, l, copy)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := escpos.Parse(p.Bytes(), l.Printer.CodePage)
	if err != nil {
		t.Fatalf("the printout does not parse: %v", err)
	}
	f, err := glyph.Default()
	if err != nil {
		t.Fatal(err)
	}
	return p, f.Transcribe(doc) // raster lines read back as text
}

func layout58Raster() Layout {
	l := Layout58()
	l.Printer.CodePage = escpos.EpsonCodePage(escpos.CP858)
	l.Printer.QR = escpos.QRRaster
	l.Decimal = ','
	return l
}

func TestGolden(t *testing.T) {
	r := testReceipt(t)
	for _, tc := range []struct {
		name string
		l    Layout
		copy bool
	}{
		{"receipt_80mm_native", Layout80(), false},
		{"receipt_58mm_raster", layout58Raster(), false},
		{"receipt_80mm_copy", Layout80(), true},
	} {
		p, doc := render(t, r, tc.l, tc.copy)
		golden(t, tc.name, hexDump(p.Bytes()))
		golden(t, tc.name+"_parsed", doc.String())
	}
}

func TestFits(t *testing.T) {
	r := testReceipt(t)
	for _, l := range []Layout{Layout58(), Layout80(), layout58Raster()} {
		_, doc := render(t, r, l, true)
		for _, line := range doc.Lines {
			if n := utf8.RuneCountInString(line.Text) * line.Width; n > l.Columns {
				t.Errorf("%d columns: line %q takes %d", l.Columns, line.Text, n)
			}
		}
	}
}

// TestContent checks what the receipt says, through the decoder, on both
// widths: every line's name and amount, totals, tenders, change, tax
// bands, the barcode and the QR payload.
func TestContent(t *testing.T) {
	ev := testEvent(t)
	r := testReceipt(t)
	for _, l := range []Layout{Layout58(), Layout80()} {
		p, doc := render(t, r, l, false)
		text := doc.Text()
		for _, want := range []string{
			"Café Tillmesh", "Till 3", "Cashier anna", "Receipt 3-41", "1 Mar 2026 14:05",
			"Espresso", "2 x 2.50", "5.00 A", "Croissant au beurre", "2.40 A", "-0.20",
			"1.234 kg x 2.99/kg", "3.69 A", "Piles AA", "5.99 B", "Subtotal", "-1.00",
			"TOTAL", "€15.88", "Card A12345", "€10.00", "Cash", "€20.00", "Change", "€14.12",
			"A 7%", "B 20%", "Prices include tax", "Merci et à bientôt !",
			"ID " + ev.ID().String()[:16],
		} {
			if !strings.Contains(text, want) {
				t.Errorf("%d columns: receipt lacks %q:\n%s", l.Columns, want, text)
			}
		}
		if strings.Contains(text, CopyMark) {
			t.Errorf("an original says %q", CopyMark)
		}
		bc := doc.EventsOf(escpos.EventBarcode)
		// The number counts receipts, not events (the sale is seq 1042),
		// and the barcode reads as the receipt screen's does.
		if len(bc) != 1 || bc[0].Symbology != escpos.Code128 || bc[0].Data != "RCN3-41" {
			t.Errorf("barcodes %v", bc)
		}
		qr := doc.EventsOf(escpos.EventQR)
		if len(qr) != 1 || qr[0].Data != p.QR {
			t.Fatalf("qr codes %v, want %q", qr, p.QR)
		}
		id, sig, err := ParseQR(qr[0].Data)
		if err != nil || id != ev.ID() || !bytes.Equal(sig, ev.Sig) {
			t.Errorf("qr %q: %x %x %v", qr[0].Data, id, sig, err)
		}
		// Anyone holding the event (fetched by its ID) checks the QR's
		// signature against it.
		check := &ledger.Event{Store: ev.Store, Till: ev.Till, Seq: ev.Seq, Prev: ev.Prev, Time: ev.Time, Body: ev.Body, Key: ev.Key, Sig: sig}
		if err := check.Verify(); err != nil {
			t.Errorf("the QR's signature does not verify the event: %v", err)
		}
		if cuts := doc.EventsOf(escpos.EventCut); len(cuts) != 1 || cuts[0].Cut != escpos.PartialCut {
			t.Errorf("cuts %v", cuts)
		}
	}
}

func TestCopy(t *testing.T) {
	r := testReceipt(t)
	_, doc := render(t, r, Layout58(), true)
	var marks []escpos.Line
	for _, l := range doc.Lines {
		if l.Text == CopyMark {
			marks = append(marks, l)
		}
	}
	if len(marks) != 2 || !marks[0].Bold || marks[0].Width != 2 || marks[0].Align != escpos.Center {
		t.Errorf("copy marks %v, want two, bold, double size, centred", marks)
	}
	if doc.Lines[0].Text != CopyMark {
		t.Errorf("first line %q, want the copy mark", doc.Lines[0].Text)
	}
}

func TestRasterQRMatchesPayload(t *testing.T) {
	r := testReceipt(t)
	l := layout58Raster()
	p, doc := render(t, r, l, false)
	if n := len(doc.EventsOf(escpos.EventQR)); n != 0 {
		t.Fatalf("%d native QR codes on a raster printer", n)
	}
	bands := doc.EventsOf(escpos.EventRaster)
	if len(bands) < 2 {
		t.Fatalf("%d raster bands, want the code split in several", len(bands))
	}
	var pix []byte
	h := 0
	for _, b := range bands {
		if len(b.Raster.Pix) > maxRasterBand {
			t.Errorf("band of %d bytes, limit %d", len(b.Raster.Pix), maxRasterBand)
		}
		pix = append(pix, b.Raster.Pix...)
		h += b.Raster.Height
	}
	probe, err := escpos.RenderQR(p.QR, 1, escpos.QRLevelM, 4096)
	if err != nil {
		t.Fatal(err)
	}
	want, err := escpos.RenderQR(p.QR, min(6, l.Printer.DotsPerLine/probe.Width), escpos.QRLevelM, l.Printer.DotsPerLine)
	if err != nil {
		t.Fatal(err)
	}
	if want.Height != h || !bytes.Equal(want.Pix, pix) {
		t.Errorf("raster bands (%d rows) differ from the QR code of %q (%d rows)", h, p.QR, want.Height)
	}
	// Segments never split a command: each parses on its own.
	for i, s := range p.Segments {
		if _, err := escpos.Parse(s, l.Printer.CodePage); err != nil {
			t.Fatalf("segment %d does not parse alone: %v", i, err)
		}
	}
}

// A line with characters the code page lacks prints as a raster image
// of the line, which reads back as the text; a TextOnly layout prints
// them as '?' and reports them.
func TestUnencodableRastered(t *testing.T) {
	r := testReceipt(t)
	r.Lines[0].Name = "Kaffee € Їжак"
	p, doc := render(t, r, Layout80(), false) // CP437: no euro sign, no Cyrillic
	if !strings.ContainsRune(string(p.Rastered), '€') || !strings.ContainsRune(string(p.Rastered), 'Ї') || len(p.Unencodable) != 0 {
		t.Errorf("rastered %q, unencodable %q: want € and Ї rastered, none replaced", string(p.Rastered), string(p.Unencodable))
	}
	if !strings.Contains(doc.Text(), "Kaffee € Їжак") || strings.Contains(doc.Text(), "?") {
		t.Errorf("the printout does not say the name:\n%s", doc.Text())
	}
	l := Layout80()
	l.TextOnly = true
	p, _ = render(t, r, l, false)
	if !strings.ContainsRune(string(p.Unencodable), '€') || !strings.ContainsRune(string(p.Unencodable), 'Ї') {
		t.Errorf("text only: unencodable %q, want € and Ї", string(p.Unencodable))
	}
	l = Layout80()
	l.Printer.CodePage = escpos.EpsonCodePage(escpos.CP858)
	r.Lines[0].Name = "Kaffee €"
	p, _ = render(t, r, l, false)
	if len(p.Unencodable) != 0 || len(p.Rastered) != 0 {
		t.Errorf("CP858 could not print %q %q", string(p.Unencodable), string(p.Rastered))
	}
}

func TestQRPayload(t *testing.T) {
	id := ledger.EventID{0xab, 0xcd}
	sig := bytes.Repeat([]byte{0xfe}, 64)
	for _, prefix := range []string{"", "https://hq.example/r", "https://hq.example/r?store=5"} {
		p := QRPayload(prefix, id, sig)
		gid, gsig, err := ParseQR(p)
		if err != nil || gid != id || !bytes.Equal(gsig, sig) {
			t.Errorf("ParseQR(%q) = %x, %x, %v", p, gid, gsig, err)
		}
	}
	if got := QRPayload("", id, sig); !strings.HasPrefix(got, DefaultVerify+"?e=abcd") {
		t.Errorf("payload %q", got)
	}
	for _, bad := range []string{"", "e=00", "x?e=zz&s=AA", "x?e=" + strings.Repeat("0", 64), "x?e=" + strings.Repeat("0", 64) + "&s=AAAA"} {
		if _, _, err := ParseQR(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseQR(%q) = %v", bad, err)
		}
	}
}

func TestFromSaleRejects(t *testing.T) {
	if _, err := FromSale(nil, Info{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil event: %v", err)
	}
	till := ledgertest.NewTill(testStore, 7, 3)
	ns := till.MustNext(&ledger.NoSale{Staff: "anna"}, 1)
	if _, err := FromSale(ns, Info{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("no-sale event: %v", err)
	}
	unsigned := &ledger.Event{Seq: 1, Body: testSale()}
	if _, err := FromSale(unsigned, Info{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("unsigned event: %v", err)
	}
}

func TestValidateRejectsDamage(t *testing.T) {
	for name, damage := range map[string]func(*Receipt){
		"no number":    func(r *Receipt) { r.Number = "" },
		"no lines":     func(r *Receipt) { r.Lines = nil },
		"no signature": func(r *Receipt) { r.Sig = nil },
		"bad utf8":     func(r *Receipt) { r.Store = "\xff" },
		"long text":    func(r *Receipt) { r.Footer = []string{strings.Repeat("x", 1000)} },
		"zero qty":     func(r *Receipt) { r.Lines[0].Qty = 0 },
	} {
		r := testReceipt(t)
		damage(&r)
		if _, err := Render(r, Layout80(), false); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Render = %v, want ErrInvalid", name, err)
		}
	}
	l := Layout80()
	l.Columns = 5
	if _, err := Render(testReceipt(t), l, false); !errors.Is(err, ErrInvalid) {
		t.Errorf("5 columns: %v", err)
	}
}

func TestWrapAndPair(t *testing.T) {
	if got := wrap("a bb ccccccccc d", 4); strings.Join(got, "|") != "a bb|cccc|cccc|c d" {
		t.Errorf("wrap = %q", got)
	}
	if got := pair("Subtotal", "12.40", 16); len(got) != 1 || got[0] != "Subtotal   12.40" {
		t.Errorf("pair = %q", got)
	}
	got := pair("A very long product name", "12.40", 16)
	for _, l := range got {
		if width(l) > 16 {
			t.Errorf("pair line %q over 16", l)
		}
	}
	if !strings.HasSuffix(got[len(got)-1], "12.40") {
		t.Errorf("pair = %q", got)
	}
}

// TestRandomSales renders generated sales on both widths: they parse,
// fit, and show the sale's total.
func TestRandomSales(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	till := ledgertest.NewTill(testStore, 9, 12)
	for i := range 30 {
		s := ledgertest.Sale(rng, 8)
		ev, err := till.Next(s, int64(1_700_000_000_000+i), fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		r, err := FromSale(ev, Info{Store: "Shop", Number: 12, Receipt: uint64(i + 1)})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range []Layout{Layout58(), Layout80()} {
			_, doc := render(t, r, l, i%2 == 0)
			for _, line := range doc.Lines {
				if utf8.RuneCountInString(line.Text)*line.Width > l.Columns {
					t.Fatalf("seed %d: line %q over %d columns", seed, line.Text, l.Columns)
				}
			}
			if want := i18n.FormatNumber(i18n.English, int64(r.Total), 2); !strings.Contains(doc.Text(), want) {
				t.Fatalf("seed %d: total %s missing", seed, want)
			}
		}
	}
}

// A receipt queued by a release before receipt numbers has no Code: it
// prints the barcode that release printed, its number.
func TestQueuedReceiptOfEarlierReleaseKeepsItsBarcode(t *testing.T) {
	r := testReceipt(t)
	r.Number, r.Code = "3-1042", ""
	_, doc := render(t, r, Layout80(), true)
	if bc := doc.EventsOf(escpos.EventBarcode); len(bc) != 1 || bc[0].Data != "3-1042" {
		t.Fatalf("barcodes %v, want 3-1042", bc)
	}
}

// A sale without its receipt number is refused rather than printed
// without one.
func TestSaleWithoutReceiptNumberRefused(t *testing.T) {
	info := testInfo()
	info.Receipt = 0
	if _, err := FromSale(testEvent(t), info); !errors.Is(err, ErrInvalid) {
		t.Fatalf("FromSale without a number = %v, want ErrInvalid", err)
	}
}
