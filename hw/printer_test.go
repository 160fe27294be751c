package hw_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tillmesh/tillmesh/hw"
	"github.com/tillmesh/tillmesh/hw/escpos"
	"github.com/tillmesh/tillmesh/hw/receipt"
	"github.com/tillmesh/tillmesh/hw/sim"
)

var statusFast = hw.TimeoutsMS{Status: 100, Write: 500, Open: 1000}

// ptyPrinter is a simulated printer on a pseudo-terminal, driven through
// serial.Open on the symlink.
func ptyPrinter(t *testing.T) (*sim.Printer, *sim.PTY, *hw.ESCPOSPrinter) {
	t.Helper()
	sp := sim.NewPrinter(sim.PrinterConfig{})
	pt, err := sim.NewPTY(sp, filepath.Join(t.TempDir(), "usb-Epson_TM-T20-if00"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pt.Close() })
	d := hw.DeviceConfig{Name: "receipt", Kind: hw.KindPrinter, Transport: hw.TransportSerial, Path: pt.Path(),
		Serial: hw.SerialConfig{Baud: 115200}, Timeouts: statusFast}
	p, err := hw.NewPrinterFrom(d, hw.Env{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return sp, pt, p
}

func TestSerialPrinterPrints(t *testing.T) {
	sp, _, p := ptyPrinter(t)
	ctx := t.Context()
	st, err := p.Status(ctx)
	if err != nil || !st.Ready() {
		t.Fatalf("status %v, %v", st, err)
	}
	r := saleReceipt(t, "Espresso")
	if err := p.Print(ctx, render(t, r, false)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the receipt", func() bool { return len(sp.Receipts()) == 1 })
	got := sp.Receipts()[0]
	if !strings.Contains(got.Text(), "Espresso") || !strings.Contains(got.Text(), "Receipt "+r.Number) || got.IsCopy() {
		t.Errorf("printed:\n%s", got.Text())
	}
	if qr := got.QR(); len(qr) != 1 || qr[0] != receipt.QRPayload("", r.EventID, r.Sig) {
		t.Errorf("qr %q", qr)
	}
	if bc := got.Barcodes(); len(bc) != 1 || bc[0] != r.Code {
		t.Errorf("barcodes %q", bc)
	}
	if errs := sp.Errors(); len(errs) != 0 {
		t.Errorf("the printer could not decode: %v", errs)
	}
	if s := p.State(); !s.Connected || s.Health != hw.HealthOK {
		t.Errorf("state %+v", s)
	}
}

func TestSerialPrinterPaperOut(t *testing.T) {
	sp, _, p := ptyPrinter(t)
	sp.SetState(sim.PaperOut)
	st, err := p.Status(t.Context())
	if err != nil || st.PaperOut != escpos.Yes || st.Ready() {
		t.Fatalf("status %v, %v; want paper out", st, err)
	}
	err = p.Print(t.Context(), render(t, saleReceipt(t, "Tea"), false))
	var pe *hw.PrintError
	if !errors.As(err, &pe) || pe.Stage != hw.StageBefore || pe.Sent() || !errors.Is(err, hw.ErrNotReady) {
		t.Fatalf("print while out of paper: %v", err)
	}
	if s := p.State(); s.Problem != "paper out" || s.Health != hw.HealthError {
		t.Errorf("state %+v", s)
	}
	if n := len(sp.Receipts()) + len(sp.Lost()); n != 0 {
		t.Errorf("%d receipts reached the printer", n)
	}
	sp.SetState(sim.Ready)
	sp.SetPaperNearEnd(true)
	if err := p.Print(t.Context(), render(t, saleReceipt(t, "Tea"), false)); err != nil {
		t.Fatalf("print with paper low: %v", err)
	}
	if s := p.State(); s.Problem != "paper low" || s.Health != hw.HealthWarn {
		t.Errorf("state %+v", s)
	}
}

func TestSerialPrinterNoReply(t *testing.T) {
	sp, _, p := ptyPrinter(t)
	sp.SetState(sim.NoReply)
	if _, err := p.Status(t.Context()); !errors.Is(err, hw.ErrNoReply) {
		t.Fatalf("status of a silent printer: %v, want ErrNoReply", err)
	}
	err := p.Print(t.Context(), render(t, saleReceipt(t, "Tea"), false))
	var pe *hw.PrintError
	if !errors.As(err, &pe) || pe.Sent() || !errors.Is(err, hw.ErrNoReply) {
		t.Fatalf("print to a silent printer: %v", err)
	}
	if s := p.State(); s.Problem != "no reply" {
		t.Errorf("state %+v", s)
	}
	sp.SetState(sim.Ready)
	if _, err := p.Status(t.Context()); err != nil {
		t.Errorf("status once it answers again: %v", err)
	}
}

func TestSerialPrinterUnplugReconnect(t *testing.T) {
	sp, pt, p := ptyPrinter(t)
	ctx := t.Context()
	if err := p.Print(ctx, render(t, saleReceipt(t, "One"), false)); err != nil {
		t.Fatal(err)
	}
	if err := pt.Unplug(); err != nil {
		t.Fatal(err)
	}
	// The open port fails first, then the path is gone.
	for range 2 {
		if _, err := p.Status(ctx); err == nil {
			t.Fatal("status of an unplugged printer succeeded")
		}
	}
	if s := p.State(); s.Connected || s.Problem != "unplugged" {
		t.Errorf("state after unplug %+v", s)
	}
	err := p.Print(ctx, render(t, saleReceipt(t, "Lost"), false))
	var pe *hw.PrintError
	if !errors.As(err, &pe) || pe.Stage != hw.StageOpen {
		t.Fatalf("print while unplugged: %v", err)
	}
	if err := pt.Plug(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Status(ctx); err != nil {
		t.Fatalf("status after replug: %v", err)
	}
	if err := p.Print(ctx, render(t, saleReceipt(t, "Two"), false)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two receipts", func() bool { return len(sp.Receipts()) == 2 })
	if s := p.State(); !s.Connected || s.Reconnects != 1 {
		t.Errorf("state after replug %+v", s)
	}
}

// gatedLink holds the job's second and third chunks, each until its
// gate opens, and lets real-time commands through.
type gatedLink struct {
	hw.Link
	gates  [2]chan struct{}
	held   [2]chan struct{}
	mu     sync.Mutex
	chunks int
}

func (g *gatedLink) Write(b []byte) (int, error) {
	if len(b) >= 2 && b[0] == 0x10 && (b[1] == 0x14 || b[1] == 0x04) {
		return g.Link.Write(b) // real-time commands
	}
	g.mu.Lock()
	g.chunks++
	n := g.chunks
	g.mu.Unlock()
	if n == 2 || n == 3 {
		close(g.held[n-2])
		<-g.gates[n-2]
	}
	return g.Link.Write(b)
}

// TestDrawerKickDuringJob kicks the drawer while a job is half sent: the
// kick goes out right after the chunk in flight, before the rest of the
// receipt.
func TestDrawerKickDuringJob(t *testing.T) {
	sp := sim.NewPrinter(sim.PrinterConfig{})
	port := sim.NewPort(sp)
	t.Cleanup(port.Close)
	g := &gatedLink{}
	for i := range g.gates {
		g.gates[i], g.held[i] = make(chan struct{}), make(chan struct{})
	}
	open := func(ctx context.Context) (hw.Link, error) {
		l, err := port.Open(ctx)
		g.Link = l
		return g, err
	}
	p, err := hw.NewPrinter(hw.PrinterConfig{Name: "p", Open: open, ChunkSize: 64, Timeouts: fastTimeouts,
		Drawer: hw.DrawerConfig{Pulse: escpos.DefaultPulse(), Realtime: true}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Print(t.Context(), render(t, saleReceipt(t, "Big"), false)) }()
	<-g.held[0] // the second chunk is on the wire
	kicked := make(chan error, 1)
	go func() { kicked <- p.OpenDrawer(t.Context()) }()
	waitFor(t, "the kick to wait for the link", func() bool { return p.KicksWaiting() == 1 })
	close(g.gates[0])
	if err := <-kicked; err != nil {
		t.Fatalf("kick during a job: %v", err)
	}
	// The third chunk is still held: the kick reached the printer
	// between the second and the third.
	waitFor(t, "the drawer", sp.Drawer().IsOpen)
	if total, realtime := sp.Drawer().Kicks(); total != 1 || realtime != 1 {
		t.Errorf("kicks %d (%d real-time)", total, realtime)
	}
	if n := len(sp.Receipts()); n != 0 {
		t.Fatalf("the receipt printed before the job finished (%d)", n)
	}
	close(g.gates[1])
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the receipt", func() bool { return len(sp.Receipts()) == 1 })
	if errs := sp.Errors(); len(errs) != 0 {
		t.Errorf("a kick between chunks broke the stream: %v", errs)
	}
}

func TestDrawerEscPNeedsReadyPrinter(t *testing.T) {
	sp := sim.NewPrinter(sim.PrinterConfig{})
	port := sim.NewPort(sp)
	t.Cleanup(port.Close)
	p, err := hw.NewPrinter(hw.PrinterConfig{Name: "p", Open: port.Open, Timeouts: fastTimeouts,
		Drawer: hw.DrawerConfig{Pulse: escpos.DefaultPulse()}})
	if err != nil {
		t.Fatal(err)
	}
	sp.SetState(sim.Offline)
	if err := p.OpenDrawer(t.Context()); !errors.Is(err, hw.ErrNotReady) {
		t.Fatalf("ESC p kick to an offline printer: %v, want ErrNotReady", err)
	}
	sp.SetState(sim.Ready)
	if err := p.OpenDrawer(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the drawer", sp.Drawer().IsOpen)
	if f, err := p.DrawerOpen(t.Context()); err != nil || f != escpos.Yes {
		t.Errorf("drawer open = %v, %v", f, err)
	}
	sp.Drawer().Shut()
	if f, _ := p.DrawerOpen(t.Context()); f != escpos.No {
		t.Errorf("drawer open after shutting it = %v", f)
	}
}
