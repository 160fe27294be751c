package hw_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/hw"
	"github.com/tillmesh/tillmesh/hw/sim"
)

// TestHubWithSimulatedTill runs a hub on a simulated till, as
// `tillmesh till --hw sim` does: receipts, drawer, scans, display, scale.
func TestHubWithSimulatedTill(t *testing.T) {
	set := sim.NewSet()
	t.Cleanup(set.Close)
	set.Scale.Interval = 5e6
	h := runHub(t, hubConfig(t, set.Devices()...))
	waitFor(t, "every device", func() bool {
		for _, d := range h.Status().Devices {
			if !d.Connected || d.Health != hw.HealthOK {
				return false
			}
		}
		return len(h.Status().Devices) == 4
	})
	changes, stop := h.Subscribe()
	defer stop()

	// A cash sale: receipt, drawer, display.
	r := saleReceipt(t, "Café crème")
	if _, err := h.Enqueue(r); err != nil {
		t.Fatal(err)
	}
	h.KickDrawer()
	h.Show("Café crème", "TOTAL 2.50 €")
	waitFor(t, "the receipt", func() bool { return len(set.Printer.Receipts()) == 1 })
	waitFor(t, "the drawer", set.Printer.Drawer().IsOpen)
	waitFor(t, "the display", func() bool { return set.Display.Lines()[1] == "TOTAL 2.50 €        " })
	if got := set.Printer.Receipts()[0].Text(); !strings.Contains(got, "Café crème") { // CP858 has é
		t.Errorf("receipt:\n%s", got)
	}
	waitFor(t, "the drawer status", func() bool { return strings.HasPrefix(h.Status().Drawer, "kicked") })
	select {
	case <-changes:
	default:
		t.Error("no change notification")
	}

	// A scan and a weight.
	waitFor(t, "the simulated scanner to serve", func() bool { return set.Scanner.Connected() == 1 })
	if err := set.Scanner.Scan("4006381333931"); err != nil {
		t.Fatal(err)
	}
	if s := nextScan(t, h.Scans()); s.Code.GTIN != "4006381333931" {
		t.Errorf("scan %+v", s)
	}
	set.Scale.Set(750, true)
	if w, err := h.Weigh(t.Context()); err != nil || w.Milli != 750 {
		t.Errorf("weigh: %v, %v", w, err)
	}

	// Unplug the printer: the banner says so, the sale's receipt waits.
	set.PrinterPort.Unplug()
	waitFor(t, "the banner", func() bool { return strings.Contains(h.Status().Banner, "unplugged") })
	h.Enqueue(saleReceipt(t, "Later"))
	set.PrinterPort.Plug()
	waitFor(t, "the second receipt", func() bool { return len(set.Printer.Receipts()) == 2 })
	waitFor(t, "the banner to clear", func() bool { return h.Status().Banner == "" })

	b, err := json.Marshal(h.Status())
	if err != nil || !strings.Contains(string(b), `"kind":"printer"`) {
		t.Errorf("status JSON %s, %v", b, err)
	}
}

func TestHubWithoutDevices(t *testing.T) {
	cfg := hw.DefaultConfig()
	h, err := hw.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Enqueue(saleReceipt(t, "x")); !errors.Is(err, hw.ErrNoDevice) {
		t.Errorf("enqueue without a printer: %v", err)
	}
	if err := h.OpenDrawer(t.Context()); !errors.Is(err, hw.ErrNoDevice) {
		t.Errorf("drawer without a printer: %v", err)
	}
	if _, err := h.Weigh(t.Context()); !errors.Is(err, hw.ErrNoDevice) {
		t.Errorf("weigh without a scale: %v", err)
	}
	h.Show("a", "b")
	h.KickDrawer()
	if s := h.Status(); len(s.Devices) != 0 || s.Banner != "" || s.Queue != nil {
		t.Errorf("status %+v", s)
	}
}
