package node_test

import (
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/hw/escpos"
	"github.com/tillmesh/tillmesh/hw/sim"
	"github.com/tillmesh/tillmesh/testnet/fiscalsim"
	"github.com/tillmesh/tillmesh/ui"
)

// TestReceiptCarriesFiscalRegistration: a sale printed while the fiscal
// service is away says "Fiscal registration pending"; once registered,
// its reprint carries the fiscal number, sign and verification URL the
// service gave, and the till's fiscal record says the same.
func TestReceiptCarriesFiscalRegistration(t *testing.T) {
	fs := fiscalsim.NewSim()
	srv := httptest.NewServer(fs.Handler())
	defer srv.Close()
	fs.SetBase(srv.URL)
	fs.Set(fiscalsim.Faults{Down: true})

	s := newStore(t, 1)
	set := sim.NewSet()
	a := s.startWith(t, s.tills[0], set)
	seed(t, a, 3)
	if err := a.PutOutboxSettings(t.Context(), ui.OutboxSettings{Fiscal: ui.FiscalSettings{URL: srv.URL, TIN: "201234567"}}); err != nil {
		t.Fatal(err)
	}
	ev := sell(t, a, "f1", "10001", 1)
	waitFor(t, "the receipt printed", func() bool { return len(set.Printer.Receipts()) == 1 })
	if txt := set.Printer.Receipts()[0].Text(); !strings.Contains(txt, "Fiscal registration pending") {
		t.Fatalf("receipt printed while the fiscal service is away does not say pending:\n%s", txt)
	}
	if rec, err := a.FiscalRecord(t.Context(), ev.ID().String()); err != nil || rec.State != "pending" {
		t.Fatalf("fiscal record %+v, %v; want pending", rec, err)
	}

	fs.Set(fiscalsim.Faults{})
	var rec ui.FiscalRecord
	waitFor(t, "the sale registered", func() bool {
		var err error
		rec, err = a.FiscalRecord(t.Context(), ev.ID().String())
		return err == nil && rec.State == "sent"
	})
	reg, ok := fs.Get(ev.ID().String())
	if !ok || rec.Number != reg.Number || rec.Sign != reg.Sign || rec.URL == "" {
		t.Fatalf("till's record %+v, service's %+v", rec, reg)
	}
	svg, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(rec.QR, "data:image/svg+xml;base64,"))
	if !strings.HasPrefix(rec.QR, "data:image/svg+xml;base64,") || err != nil || !strings.HasPrefix(string(svg), "<svg") ||
		strings.Count(string(svg), "h1v1h-1z") < 100 {
		t.Fatalf("receipt screen QR of %s: %.80q (%v)", rec.URL, svg, err)
	}
	if err := a.Reprint(t.Context(), ev.ID()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reprint", func() bool { return len(set.Printer.Receipts()) == 2 })
	cp := set.Printer.Receipts()[1]
	txt := cp.Text()
	if !cp.IsCopy() || !strings.Contains(txt, "Fiscal number "+reg.Number) || !strings.Contains(txt, "Fiscal sign "+reg.Sign) ||
		!strings.Contains(strings.ReplaceAll(txt, "\n", ""), rec.URL) || strings.Contains(txt, "pending") { // the URL wraps
		t.Fatalf("reprint does not carry the registration %+v:\n%s", rec, txt)
	}
	fiscalQR := false
	for _, e := range cp.Events {
		fiscalQR = fiscalQR || (e.Kind == escpos.EventQR && e.Data == rec.URL)
	}
	if !fiscalQR {
		t.Fatalf("the reprint has no QR code of the verification URL %s:\n%s", rec.URL, cp)
	}
}
