package hw_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/hw"
	"github.com/tillmesh/tillmesh/hw/display"
	"github.com/tillmesh/tillmesh/hw/escpos"
	"github.com/tillmesh/tillmesh/hw/sim"
	"github.com/tillmesh/tillmesh/ledger/basket"
)

func serialPath(p string) func() (string, error) { return func() (string, error) { return p, nil } }

func run(t *testing.T, f func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func nextScan(t *testing.T, ch <-chan hw.Scan) hw.Scan {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no scan")
	}
	return hw.Scan{}
}

func noScan(t *testing.T, ch <-chan hw.Scan) {
	t.Helper()
	select {
	case s := <-ch:
		t.Fatalf("unexpected scan %+v", s)
	default:
	}
}

// TestSerialScannerSplitReads sends codes over a pseudo-terminal in pieces
// that the driver reads separately, including a CR and LF split between
// reads.
func TestSerialScannerSplitReads(t *testing.T) {
	ss := sim.NewScanner()
	pt, err := sim.NewPTY(ss, filepath.Join(t.TempDir(), "usb-Datalogic-if00"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pt.Close() })
	sc, err := hw.NewScanner(hw.ScannerConfig{Name: "scanner", Open: hw.SerialOpener(serialPath(pt.Path()), hw.SerialConfig{}), Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	run(t, sc.Run)
	waitFor(t, "the scanner to connect", func() bool { return sc.State().Connected })
	waitFor(t, "the simulator to serve", func() bool { return ss.Connected() == 1 })

	rx := func() int64 { return sc.State().RxBytes }
	send := func(s string) {
		t.Helper()
		before := rx()
		if err := ss.Send([]byte(s)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the driver to read "+s, func() bool { return rx() >= before+int64(len(s)) })
	}
	send("40063")
	noScan(t, sc.Scans())
	send("81333931\r") // CR ends the line
	if got := nextScan(t, sc.Scans()); got.Code != (basket.Code{Symbology: basket.EAN13, GTIN: "4006381333931"}) || got.Device != "scanner" {
		t.Errorf("scan %+v", got)
	}
	send("\n")
	noScan(t, sc.Scans()) // the LF of a CR LF split between reads is not a second line

	send("4006381333932\r\n") // wrong check digit
	noScan(t, sc.Scans())
	if sc.Rejected() != 1 || !strings.Contains(sc.State().Detail, "wrong check digit") {
		t.Errorf("rejected %d, state %+v", sc.Rejected(), sc.State())
	}
	send("036000291452\n") // UPC-A
	if got := nextScan(t, sc.Scans()); got.Code.GTIN != "0036000291452" || got.Code.Symbology != basket.UPCA {
		t.Errorf("scan %+v", got)
	}
}

func TestSerialScannerReconnects(t *testing.T) {
	ss := sim.NewScanner()
	pt, err := sim.NewPTY(ss, filepath.Join(t.TempDir(), "scanner"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pt.Close() })
	sc, _ := hw.NewScanner(hw.ScannerConfig{Name: "scanner", Open: hw.SerialOpener(serialPath(pt.Path()), hw.SerialConfig{}), Backoff: fastBackoff})
	run(t, sc.Run)
	waitFor(t, "the scanner to connect", func() bool { return sc.State().Connected })
	pt.Unplug()
	waitFor(t, "the scanner to notice the unplug", func() bool { return !sc.State().Connected })
	if p := sc.State().Problem; p != "disconnected" && p != "unplugged" {
		t.Errorf("problem %q", p)
	}
	pt.Plug()
	waitFor(t, "the scanner to reconnect", func() bool { s := sc.State(); return s.Connected && s.Reconnects == 1 })
	waitFor(t, "the simulator to see the driver", func() bool { return ss.Connected() == 1 })
	ss.Scan("96385074")
	if got := nextScan(t, sc.Scans()); got.Code.GTIN != "96385074" {
		t.Errorf("scan after reconnect %+v", got)
	}
}

func TestDisplayBothProtocols(t *testing.T) {
	for _, proto := range []display.Protocol{display.Epson, display.CD5220} {
		cfg := display.Config{Protocol: proto, CodePage: escpos.EpsonCodePage(escpos.CP437)}
		sd := sim.NewDisplay(cfg)
		pt, err := sim.NewPTY(sd, filepath.Join(t.TempDir(), "pole"))
		if err != nil {
			t.Fatal(err)
		}
		d, err := hw.NewDisplay(hw.DisplayConfig{Name: "pole", Open: hw.SerialOpener(serialPath(pt.Path()), hw.SerialConfig{}),
			Display: cfg, Backoff: fastBackoff})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { d.Run(ctx); close(done) }()
		d.Show("Crème brûlée", display.Pair(cfg, "TOTAL", "5,00 €"))
		want := []string{"Crème brûlée        ", "TOTAL       5,00 EUR"} // CP437 has è and û, not €
		waitFor(t, proto.String()+" lines", func() bool {
			got := sd.Lines()
			return got[0] == want[0] && got[1] == want[1]
		})
		// After a replug the display shows the lines again.
		pt.Unplug()
		waitFor(t, "the display to notice", func() bool { return !d.State().Connected })
		sd2 := sim.NewDisplay(cfg)
		pt2, err := sim.NewPTY(sd2, pt.Path())
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the lines after a replug", func() bool { return sd2.Lines()[1] == want[1] })
		if sd.Errors()+sd2.Errors() != 0 {
			t.Errorf("%v: %d undecodable commands", proto, sd.Errors()+sd2.Errors())
		}
		cancel()
		<-done
		pt2.Close()
	}
}

func TestScaleCAS(t *testing.T) {
	ss := sim.NewScale(hw.ScaleCAS)
	ss.Interval = 5 * time.Millisecond
	port := sim.NewPort(ss)
	t.Cleanup(port.Close)
	s, err := hw.NewScale(hw.ScaleConfig{Name: "scale", Open: port.Open, Protocol: hw.ScaleCAS, Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	run(t, s.Run)
	waitFor(t, "the scale to connect", func() bool { return s.State().Connected })
	ss.Set(1234, false)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	_, err = s.Weigh(ctx)
	cancel()
	if !errors.Is(err, hw.ErrUnstable) || !strings.Contains(err.Error(), "not stable") {
		t.Fatalf("weigh while moving: %v", err)
	}
	ss.Set(1234, true)
	r, err := s.Weigh(t.Context())
	if g, _ := r.Grams(); err != nil || g != 1234 || !r.Stable {
		t.Fatalf("weigh: %v %v", r, err)
	}
	ss.Overload()
	ctx, cancel = context.WithTimeout(t.Context(), 100*time.Millisecond)
	_, err = s.Weigh(ctx)
	cancel()
	if !errors.Is(err, hw.ErrUnstable) || !strings.Contains(err.Error(), "over capacity") {
		t.Errorf("weigh an overload: %v", err)
	}
}

// TestScaleToledo7E1 weighs over a pseudo-terminal at 9600 7E1, as
// Toledo scales are often set.
func TestScaleToledo7E1(t *testing.T) {
	ss := sim.NewScale(hw.ScaleToledo)
	pt, err := sim.NewPTY(ss, filepath.Join(t.TempDir(), "scale"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pt.Close() })
	s, err := hw.NewScale(hw.ScaleConfig{Name: "scale", Protocol: hw.ScaleToledo, Poll: 5 * time.Millisecond, Backoff: fastBackoff,
		Open: hw.SerialOpener(serialPath(pt.Path()), hw.SerialConfig{Baud: 9600, DataBits: 7, Parity: "even"})})
	if err != nil {
		t.Fatal(err)
	}
	run(t, s.Run)
	waitFor(t, "the scale to connect", func() bool { return s.State().Connected })
	ss.Set(2500, false)
	// The weighing gives up once the scale has answered "moving" a few
	// times (a deadline of 100 ms saw a single request on a loaded machine).
	start := ss.Requests()
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		defer cancel()
		deadline := time.Now().Add(30 * time.Second)
		for ss.Requests() < start+3 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond) // poll interval
		}
	}()
	_, err = s.Weigh(ctx)
	cancel()
	if !errors.Is(err, hw.ErrUnstable) || ss.Requests() < 2 {
		t.Fatalf("weigh while moving: %v after %d requests", err, ss.Requests())
	}
	ss.Set(2500, true)
	r, err := s.Weigh(t.Context())
	if g, _ := r.Grams(); err != nil || g != 2500 {
		t.Fatalf("weigh: %v %v", r, err)
	}
	if err := r.Usable(); err != nil {
		t.Errorf("usable: %v", err)
	}
}

func TestScaleOffline(t *testing.T) {
	port := sim.NewPort(sim.NewScale(hw.ScaleCAS))
	port.Unplug()
	s, _ := hw.NewScale(hw.ScaleConfig{Name: "scale", Open: port.Open, Protocol: hw.ScaleCAS, Backoff: fastBackoff})
	run(t, s.Run)
	waitFor(t, "the scale to be reported unplugged", func() bool { return s.State().Problem == "unplugged" })
	if _, err := s.Weigh(t.Context()); !errors.Is(err, hw.ErrOffline) {
		t.Errorf("weigh on an unplugged scale: %v", err)
	}
}
