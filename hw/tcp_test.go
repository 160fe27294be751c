package hw_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/hw"
	"github.com/tillmesh/tillmesh/hw/sim"
)

func tcpPrinter(t *testing.T, addr string, noStatus bool) *hw.ESCPOSPrinter {
	t.Helper()
	d := hw.DeviceConfig{Name: "net", Kind: hw.KindPrinter, Transport: hw.TransportTCP, Host: addr,
		Timeouts: statusFast, Printer: &hw.PrinterOptions{NoStatus: noStatus}}
	p, err := hw.NewPrinterFrom(d, hw.Env{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestTCPPrinterOneJobPerConnection(t *testing.T) {
	sp := sim.NewPrinter(sim.PrinterConfig{})
	srv, err := sim.ListenTCP(sp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	p := tcpPrinter(t, srv.Addr(), false)
	for i, name := range []string{"First", "Second"} {
		if err := p.Print(t.Context(), render(t, saleReceipt(t, name), false)); err != nil {
			t.Fatalf("job %d: %v", i+1, err)
		}
		// The job's connection is closed, so the printer can serve the next
		// client.
		waitFor(t, "the connection to close", func() bool { return srv.Accepted() == 0 })
	}
	waitFor(t, "two receipts", func() bool { return len(sp.Receipts()) == 2 })
	if !strings.Contains(sp.Receipts()[1].Text(), "Second") {
		t.Errorf("second receipt:\n%s", sp.Receipts()[1].Text())
	}
	if err := p.OpenDrawer(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the drawer", sp.Drawer().IsOpen)
	waitFor(t, "the kick's connection to close", func() bool { return srv.Accepted() == 0 })
}

// TestTCPPrinterThatNeverReads: a printer that accepts the connection and
// never reads. The status check gets no reply, so the job is not sent; a
// printer driven blind runs into its write deadline. Nothing blocks.
func TestTCPPrinterThatNeverReads(t *testing.T) {
	srv, err := sim.ListenDeaf()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })

	p := tcpPrinter(t, srv.Addr(), false)
	err = p.Print(t.Context(), render(t, saleReceipt(t, "Held"), false))
	var pe *hw.PrintError
	if !errors.As(err, &pe) || pe.Sent() || !errors.Is(err, hw.ErrNoReply) {
		t.Fatalf("print to a deaf printer: %v", err)
	}

	blind := tcpPrinter(t, srv.Addr(), true)
	big := hw.Job{}
	for range 64 { // far more than the socket buffers hold
		big.Segments = append(big.Segments, make([]byte, 64<<10))
	}
	start := time.Now()
	err = blind.Print(t.Context(), big)
	if !errors.As(err, &pe) || pe.Stage != hw.StageSend || !errors.Is(err, errDeadline) {
		t.Fatalf("blind print to a deaf printer: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the job took %v to give up", d)
	}
}

// TestTCPQueueHoldsOnDeafPrinter: a hub whose printer never reads queues
// the receipt at once, holds the queue, and says why.
func TestTCPQueueHoldsOnDeafPrinter(t *testing.T) {
	srv, err := sim.ListenDeaf()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	cfg := hubConfig(t, hw.DeviceConfig{Name: "net", Kind: hw.KindPrinter, Transport: hw.TransportTCP,
		Host: srv.Addr(), Timeouts: statusFast})
	h := runHub(t, cfg)
	info, err := h.Enqueue(saleReceipt(t, "Waiting"))
	if err != nil || info.State == hw.JobPrinted {
		t.Fatalf("enqueue: %+v, %v", info, err)
	}
	waitFor(t, "the queue to hold", func() bool {
		q := h.Status().Queue
		return q.Held && q.Reason == "no reply" && q.Pending == 1
	})
	if b := h.Status().Banner; !strings.Contains(b, "no reply") || !strings.Contains(b, "1 receipt(s) waiting") {
		t.Errorf("banner %q", b)
	}
}
