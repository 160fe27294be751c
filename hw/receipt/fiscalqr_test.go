package receipt

import (
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/hw/escpos"
)

// TestFiscalQR: a registered receipt prints the fiscal service's
// verification URL as a QR code of its own (GS ( k on a printer that
// draws them, raster otherwise), before the receipt's verification code,
// which stays the printout's QR payload. A receipt without one prints
// only its own; an oversized URL is refused.
func TestFiscalQR(t *testing.T) {
	const url = "https://ofd.example/check?n=FN0000000042&s=9f2c"
	r := testReceipt(t)
	r.FiscalQR = url
	p, doc := render(t, r, Layout80(), false)
	qrs := doc.EventsOf(escpos.EventQR)
	if len(qrs) != 2 || qrs[0].Data != url || qrs[1].Data != p.QR || p.QR == url {
		var got []string
		for _, q := range qrs {
			got = append(got, q.Data)
		}
		t.Fatalf("QR codes %q, printout QR %q: want the fiscal URL, then the receipt's own", got, p.QR)
	}
	_, raster := render(t, r, layout58Raster(), false)
	_, plain := render(t, testReceipt(t), layout58Raster(), false)
	if a, b := len(raster.EventsOf(escpos.EventRaster)), len(plain.EventsOf(escpos.EventRaster)); a <= b {
		t.Fatalf("raster printer: %d bands with a fiscal QR, %d without", a, b)
	}
	_, doc = render(t, testReceipt(t), Layout80(), false)
	if n := len(doc.EventsOf(escpos.EventQR)); n != 1 {
		t.Fatalf("%d QR codes on a receipt without a fiscal URL", n)
	}
	r.FiscalQR = "https://ofd.example/" + strings.Repeat("x", maxFiscalQR)
	if _, err := Render(r, Layout80(), false); err == nil {
		t.Fatal("an oversized fiscal URL printed")
	}
}
