package hw_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/hw"
	"github.com/tillmesh/tillmesh/hw/escpos"
	"github.com/tillmesh/tillmesh/hw/receipt"
	"github.com/tillmesh/tillmesh/hw/sim"
)

var errDeadline = os.ErrDeadlineExceeded

func hubConfig(t *testing.T, devs ...hw.DeviceConfig) hw.Config {
	t.Helper()
	cfg := hw.DefaultConfig()
	cfg.Devices = devs
	cfg.QueueDir = t.TempDir()
	cfg.Backoff = fastBackoff
	cfg.PollInterval = 20 * time.Millisecond
	cfg.Logger = discardLogger()
	return cfg
}

func runHub(t *testing.T, cfg hw.Config) *hw.Hub {
	t.Helper()
	h, err := hw.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		h.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		h.Close()
	})
	return h
}

// simPrinterDevice reaches sp in-process.
func simPrinterDevice(sp *sim.Printer, t *testing.T) (hw.DeviceConfig, *sim.Port) {
	port := sim.NewPort(sp)
	t.Cleanup(port.Close)
	return hw.DeviceConfig{Name: "receipt", Kind: hw.KindPrinter, Transport: hw.TransportSim, Open: port.Open,
		Timeouts: statusFast}, port
}

// TestSaleWhilePaperOut: the receipt of a sale made while the printer is
// out of paper is queued at once, held with the reason shown, and printed
// exactly once when the paper is back. A reprint says COPY.
func TestSaleWhilePaperOut(t *testing.T) {
	sp := sim.NewPrinter(sim.PrinterConfig{})
	sp.SetState(sim.PaperOut)
	dev, _ := simPrinterDevice(sp, t)
	h := runHub(t, hubConfig(t, dev))

	r := saleReceipt(t, "Paper out sale")
	if _, err := h.Enqueue(r); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the queue to hold on paper out", func() bool {
		q := h.Status().Queue
		return q.Held && q.Reason == "paper out" && q.Pending == 1
	})
	if b := h.Status().Banner; !strings.Contains(b, "paper out") {
		t.Errorf("banner %q", b)
	}
	if n := len(sp.Receipts()) + len(sp.Lost()); n != 0 {
		t.Fatalf("%d receipts sent to a printer without paper", n)
	}

	sp.SetState(sim.Ready)
	waitFor(t, "the receipt", func() bool { return len(sp.Receipts()) == 1 })
	waitFor(t, "the queue to empty", func() bool { q := h.Status().Queue; return q.Pending == 0 && !q.Held })
	// Let the hub poll a few more times: still one receipt.
	q0 := sp.StatusQueries()
	waitFor(t, "more status polls", func() bool { return sp.StatusQueries() > q0+6 })
	if got := sp.Receipts(); len(got) != 1 || got[0].IsCopy() || len(sp.Lost()) != 0 {
		t.Fatalf("%d receipts (%d lost), first a copy: %v", len(got), len(sp.Lost()), len(got) > 0 && got[0].IsCopy())
	}
	if qr := sp.Receipts()[0].QR(); len(qr) != 1 || qr[0] != receipt.QRPayload("", r.EventID, r.Sig) {
		t.Errorf("qr %q", qr)
	}
	if b := h.Status().Banner; b != "" {
		t.Errorf("banner after printing: %q", b)
	}
	// Queuing the same sale again (a retried request) prints nothing.
	if info, err := h.Enqueue(r); err != nil || info.State != hw.JobPrinted {
		t.Errorf("enqueue again: %+v, %v", info, err)
	}

	if _, err := h.Reprint(r.EventID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reprint", func() bool { return len(sp.Receipts()) == 2 })
	if !sp.Receipts()[1].IsCopy() {
		t.Errorf("the reprint is not marked COPY:\n%s", sp.Receipts()[1].Text())
	}
	waitFor(t, "the reprint in the history", func() bool { return len(h.Recent()) == 2 })
	if recent := h.Recent(); len(recent) != 2 || !recent[0].Copy || recent[1].Copy {
		t.Errorf("recent %+v", recent)
	}
}

// TestEnqueueNeverBlocks: with the printer unplugged, receipts queue at
// once and print, in order, once it is back.
func TestEnqueueNeverBlocks(t *testing.T) {
	sp := sim.NewPrinter(sim.PrinterConfig{})
	dev, port := simPrinterDevice(sp, t)
	port.Unplug()
	h := runHub(t, hubConfig(t, dev))
	for _, name := range []string{"A", "B", "C"} {
		done := make(chan error, 1)
		go func() { _, err := h.Enqueue(saleReceipt(t, name)); done <- err }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Enqueue blocked")
		}
	}
	waitFor(t, "the queue to hold", func() bool { q := h.Status().Queue; return q.Held && q.Reason == "unplugged" })
	if s := h.Status().Devices[0]; s.Connected || s.Problem != "unplugged" {
		t.Errorf("printer state %+v", s)
	}
	port.Plug()
	waitFor(t, "three receipts", func() bool { return len(sp.Receipts()) == 3 })
	for i, want := range []string{"A", "B", "C"} {
		if !strings.Contains(sp.Receipts()[i].Text(), "\n"+want) {
			t.Errorf("receipt %d is not %s:\n%s", i, want, sp.Receipts()[i].Text())
		}
	}
}

// failingPrinter passes the status check, starts sending, and fails: the
// job may have printed in part.
type failingPrinter struct{ calls int }

func (f *failingPrinter) Status(context.Context) (escpos.Status, error) { return escpos.Status{}, nil }

func (f *failingPrinter) Print(ctx context.Context, job hw.Job) error {
	f.calls++
	if job.Sending != nil {
		if err := job.Sending(); err != nil {
			return err
		}
	}
	return &hw.PrintError{Stage: hw.StageSend, Err: errors.New("cable pulled")}
}

// TestAttemptSurvivesRestart: a job that may have printed in part before
// the till stopped is printed again after a restart, marked COPY.
func TestAttemptSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	fp := &failingPrinter{}
	q, err := hw.NewQueue(hw.QueueConfig{Dir: dir, Printer: fp, Layout: receipt.Layout80(), Retry: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	r := saleReceipt(t, "Half printed")
	if _, err := q.Enqueue(r); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()
	waitFor(t, "an attempt", func() bool { return q.State().Held })
	cancel()
	<-done

	sp := sim.NewPrinter(sim.PrinterConfig{})
	port := sim.NewPort(sp)
	t.Cleanup(port.Close)
	p, err := hw.NewPrinter(hw.PrinterConfig{Name: "p", Open: port.Open, Timeouts: fastTimeouts})
	if err != nil {
		t.Fatal(err)
	}
	q2, err := hw.NewQueue(hw.QueueConfig{Dir: dir, Printer: p, Layout: receipt.Layout80(), Retry: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	if jobs := q2.Jobs(); len(jobs) != 1 || !jobs[0].Copy || jobs[0].Attempts < 1 {
		t.Fatalf("jobs after restart %+v", jobs)
	}
	ctx2, cancel2 := context.WithCancel(t.Context())
	defer cancel2()
	go q2.Run(ctx2)
	waitFor(t, "the reprint", func() bool { return len(sp.Receipts()) == 1 })
	if !sp.Receipts()[0].IsCopy() {
		t.Errorf("a receipt that may have printed before is not marked COPY")
	}
	waitFor(t, "the job file to move", func() bool {
		left, _ := filepath.Glob(filepath.Join(dir, "pending", "*.json"))
		done, _ := filepath.Glob(filepath.Join(dir, "printed", "*.json"))
		return len(left) == 0 && len(done) == 1
	})
}

func TestQueueSetsAsideDamagedFiles(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "pending"), 0o700)
	os.WriteFile(filepath.Join(dir, "pending", "000000000007.json"), []byte("{not json"), 0o600)
	os.WriteFile(filepath.Join(dir, "pending", ".tmp-123"), []byte("half"), 0o600)
	// A job whose receipt was tampered with to print forever.
	r := saleReceipt(t, "x")
	r.Lines = nil
	b, _ := json.Marshal(map[string]any{"v": 1, "id": 8, "receipt": r})
	os.WriteFile(filepath.Join(dir, "pending", "000000000008.json"), b, 0o600)
	q, err := hw.NewQueue(hw.QueueConfig{Dir: dir, Printer: &failingPrinter{}, Layout: receipt.Layout80()})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(q.Jobs()); n != 0 {
		t.Errorf("%d jobs loaded from damaged files", n)
	}
	bad, _ := filepath.Glob(filepath.Join(dir, "bad", "*"))
	tmp, _ := filepath.Glob(filepath.Join(dir, "pending", ".tmp-*"))
	if len(bad) != 2 || len(tmp) != 0 {
		t.Errorf("bad %v, temporary files left %v", bad, tmp)
	}
	// New jobs get IDs after the damaged ones.
	info, err := q.Enqueue(saleReceipt(t, "after"))
	if err != nil || info.ID != "9" {
		t.Errorf("enqueue after damage: %+v, %v", info, err)
	}
}

// TestQueueMovesAsideAFileInItsPlace: a file where the queue or one of
// its directories belongs is kept aside and the queue starts, so receipts
// never stop a till from starting.
func TestQueueMovesAsideAFileInItsPlace(t *testing.T) {
	for _, tc := range []struct{ name, file string }{{"queue", ""}, {"pending", "pending"}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "printq")
			path := dir
			if tc.file != "" {
				os.MkdirAll(dir, 0o700)
				path = filepath.Join(dir, tc.file)
			}
			os.WriteFile(path, []byte("garbage"), 0o600)
			q, err := hw.NewQueue(hw.QueueConfig{Dir: dir, Printer: &failingPrinter{}, Layout: receipt.Layout80()})
			if err != nil {
				t.Fatalf("open with a file at %s: %v", path, err)
			}
			if _, err := q.Enqueue(saleReceipt(t, "after")); err != nil {
				t.Errorf("enqueue: %v", err)
			}
			kept, _ := filepath.Glob(path + ".broken-*")
			if len(kept) != 1 {
				t.Errorf("the file in the way was not kept aside: %v", kept)
			}
		})
	}
}

func TestReprintUnknown(t *testing.T) {
	q, err := hw.NewQueue(hw.QueueConfig{Dir: t.TempDir(), Printer: &failingPrinter{}, Layout: receipt.Layout80()})
	if err != nil {
		t.Fatal(err)
	}
	r := saleReceipt(t, "x")
	if _, err := q.Reprint(r.EventID); !errors.Is(err, hw.ErrNotQueued) {
		t.Errorf("reprint of an unknown sale: %v", err)
	}
	if info, err := q.ReprintReceipt(r); err != nil || !info.Copy {
		t.Errorf("reprint from the ledger's receipt: %+v, %v", info, err)
	}
}

func TestQueueKeepsBoundedHistory(t *testing.T) {
	sp := sim.NewPrinter(sim.PrinterConfig{})
	port := sim.NewPort(sp)
	t.Cleanup(port.Close)
	p, _ := hw.NewPrinter(hw.PrinterConfig{Name: "p", Open: port.Open, Timeouts: fastTimeouts})
	dir := t.TempDir()
	q, err := hw.NewQueue(hw.QueueConfig{Dir: dir, Printer: p, Layout: receipt.Layout58(), Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	go q.Run(t.Context())
	for _, n := range []string{"a", "b", "c", "d"} {
		q.Enqueue(saleReceipt(t, n))
	}
	waitFor(t, "four receipts", func() bool { return q.State().Printed == 4 })
	files, _ := filepath.Glob(filepath.Join(dir, "printed", "*.json"))
	if len(files) != 2 || len(q.Recent()) != 2 {
		t.Errorf("%d files, %d recent; want 2", len(files), len(q.Recent()))
	}
}
