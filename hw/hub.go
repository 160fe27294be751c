package hw

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/hw/receipt"
	"github.com/tillmesh/tillmesh/hw/scale"
	"github.com/tillmesh/tillmesh/ledger"
)

// Config configures a Hub.
type Config struct {
	// Devices are the till's devices (LoadFile, or a simulator's).
	Devices []DeviceConfig
	// QueueDir holds the print queue; required when a printer is
	// configured.
	QueueDir string
	Env      Env
	Logger   *slog.Logger
	Now      func() time.Time
	// Backoff paces reconnects and retries.
	Backoff Backoff
	// PollInterval is how often an idle printer's status is checked, so
	// the till shows paper out before the next sale.
	PollInterval time.Duration
	// DrawerTimeout bounds a drawer kick.
	DrawerTimeout time.Duration
}

// DefaultConfig returns a Config with everything but Devices and
// QueueDir set.
func DefaultConfig() Config {
	return Config{Logger: slog.Default(), Now: time.Now, Backoff: DefaultBackoff(),
		PollInterval: 3 * time.Second, DrawerTimeout: 2 * time.Second}
}

// Validate reports what is missing or wrong.
func (c Config) Validate() error {
	if err := (File{Devices: c.Devices}).Validate(); err != nil {
		return err
	}
	for _, d := range c.Devices {
		if d.Kind == KindPrinter && c.QueueDir == "" {
			return fmt.Errorf("hw: a printer needs a print queue directory: %w", ErrConfig)
		}
	}
	if c.Logger == nil || c.Now == nil {
		return fmt.Errorf("hw: no logger or clock: %w", ErrConfig)
	}
	if c.PollInterval <= 0 || c.DrawerTimeout <= 0 || c.Backoff.Min <= 0 {
		return fmt.Errorf("hw: poll interval, drawer timeout and backoff must be positive: %w", ErrConfig)
	}
	return nil
}

// Hub is a till's hardware: the receipt printer and its drawer behind a
// persisted print queue, the scanner, the customer display and the
// scale, each optional. New builds it; Run keeps every device connected
// and the queue printing until its context ends.
//
// Nothing in a Hub blocks or fails a sale: Enqueue, KickDrawer and Show
// return at once, and a device that is missing, unplugged or out of paper
// shows in Status instead.
type Hub struct {
	cfg Config
	log *slog.Logger

	printer *ESCPOSPrinter
	queue   *Queue
	scanner *SerialScanner
	display *PoleDisplay
	scale   *SerialScale
	noScans chan Scan

	subMu sync.Mutex
	subs  map[chan struct{}]struct{}

	drawerMu sync.Mutex
	drawer   string // last kick, for the status
	kicks    sync.WaitGroup
}

// New builds the drivers and opens the print queue; it opens no device.
func New(cfg Config) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Hub{cfg: cfg, log: cfg.Logger, noScans: make(chan Scan), subs: map[chan struct{}]struct{}{}}
	for _, d := range cfg.Devices {
		open, err := d.Opener(cfg.Env)
		if err != nil {
			return nil, err
		}
		switch d.Kind {
		case KindPrinter:
			if h.printer, err = NewPrinterFrom(d, cfg.Env, cfg.Now, h.changed); err != nil {
				return nil, err
			}
			layout, _ := d.Layout() // validated
			if err := d.CodePageProblem(); err != nil {
				h.log.Error("printer code page unknown", "printer", d.Name, "err", err)
			}
			if h.queue, err = NewQueue(QueueConfig{Dir: cfg.QueueDir, Printer: h.printer, Layout: layout,
				Retry:  Backoff{Min: cfg.Backoff.Min, Max: min(cfg.Backoff.Max, cfg.PollInterval)},
				Logger: cfg.Logger, Now: cfg.Now, Notify: h.changed}); err != nil {
				return nil, err
			}
		case KindScanner:
			sc := ScannerConfig{Name: d.Name, Open: open, Backoff: cfg.Backoff, Now: cfg.Now, Notify: h.changed}
			if d.Scanner != nil {
				sc.MaxLine = d.Scanner.MaxLine
			}
			if h.scanner, err = NewScanner(sc); err != nil {
				return nil, err
			}
		case KindDisplay:
			dc, _ := d.displayConfig() // validated
			if h.display, err = NewDisplay(DisplayConfig{Name: d.Name, Open: open, Display: dc, Backoff: cfg.Backoff,
				WriteTimeout: d.Timeouts.timeouts().Write, Now: cfg.Now, Notify: h.changed}); err != nil {
				return nil, err
			}
		case KindScale:
			if h.scale, err = NewScale(ScaleConfig{Name: d.Name, Open: open, Protocol: ScaleProtocol(d.Scale.Protocol),
				Unit: d.Scale.Unit, Backoff: cfg.Backoff, Now: cfg.Now, Notify: h.changed}); err != nil {
				return nil, err
			}
		}
	}
	return h, nil
}

// Run runs the devices and the print queue until ctx ends.
func (h *Hub) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	run := func(f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(ctx)
		}()
	}
	if h.printer != nil {
		run(h.queue.Run)
		run(h.pollPrinter)
	}
	if h.scanner != nil {
		run(h.scanner.Run)
	}
	if h.display != nil {
		run(h.display.Run)
	}
	if h.scale != nil {
		run(h.scale.Run)
	}
	wg.Wait()
	h.kicks.Wait()
	return nil
}

// Close releases the printer's link. Call it after Run returns.
func (h *Hub) Close() error {
	if h.printer != nil {
		return h.printer.Close()
	}
	return nil
}

// pollPrinter checks an idle printer's status, so that paper out shows
// before the next sale, and wakes the queue when the printer is ready
// again.
func (h *Hub) pollPrinter(ctx context.Context) error {
	bo := backoff{Backoff: h.cfg.Backoff}
	wasReady := false
	for ctx.Err() == nil {
		st, err := h.printer.Status(ctx)
		ready := err == nil && st.Ready()
		if ready && !wasReady {
			h.queue.Nudge()
		}
		wasReady = ready
		if ready {
			bo.reset()
			t := time.NewTimer(h.cfg.PollInterval)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			continue
		}
		bo.wait(ctx, nil)
	}
	return nil
}

// Enqueue queues the receipt of a committed sale and returns at once.
// Without a printer it returns ErrNoDevice. An error never undoes the
// sale: log it.
func (h *Hub) Enqueue(r receipt.Receipt) (JobInfo, error) {
	if h.queue == nil {
		return JobInfo{}, fmt.Errorf("print receipt %s: %w", r.Number, ErrNoDevice)
	}
	return h.queue.Enqueue(r)
}

// Reprint queues a copy, marked COPY, of a receipt the queue remembers.
func (h *Hub) Reprint(id ledger.EventID) (JobInfo, error) {
	if h.queue == nil {
		return JobInfo{}, fmt.Errorf("reprint: %w", ErrNoDevice)
	}
	return h.queue.Reprint(id)
}

// ReprintReceipt queues a copy of r, marked COPY.
func (h *Hub) ReprintReceipt(r receipt.Receipt) (JobInfo, error) {
	if h.queue == nil {
		return JobInfo{}, fmt.Errorf("reprint: %w", ErrNoDevice)
	}
	return h.queue.ReprintReceipt(r)
}

// Jobs lists the queued print jobs, and Recent the printed ones kept for
// reprinting, newest first.
func (h *Hub) Jobs() []JobInfo {
	if h.queue == nil {
		return nil
	}
	return h.queue.Jobs()
}

// Recent lists the printed jobs kept for reprinting, newest first.
func (h *Hub) Recent() []JobInfo {
	if h.queue == nil {
		return nil
	}
	return h.queue.Recent()
}

// OpenDrawer kicks the drawer now, ahead of queued receipts, and waits
// at most DrawerTimeout.
func (h *Hub) OpenDrawer(ctx context.Context) error {
	if h.printer == nil {
		return fmt.Errorf("open drawer: %w", ErrNoDevice)
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.DrawerTimeout)
	defer cancel()
	err := h.printer.OpenDrawer(ctx)
	h.drawerMu.Lock()
	if err != nil {
		h.drawer = "kick failed: " + err.Error()
	} else {
		h.drawer = "kicked at " + h.cfg.Now().Format("15:04:05")
	}
	h.drawerMu.Unlock()
	h.changed()
	return err
}

// KickDrawer kicks the drawer in the background and returns at once; the
// outcome shows in Status.
func (h *Hub) KickDrawer() {
	if h.printer == nil {
		return
	}
	h.kicks.Add(1)
	go func() {
		defer h.kicks.Done()
		if err := h.OpenDrawer(context.Background()); err != nil {
			h.log.Warn("drawer kick failed", "err", err)
		}
	}()
}

// Scans delivers barcode scans. Without a scanner it never delivers.
func (h *Hub) Scans() <-chan Scan {
	if h.scanner == nil {
		return h.noScans
	}
	return h.scanner.Scans()
}

// Show puts two lines on the customer display, if there is one. It
// returns at once.
func (h *Hub) Show(top, bottom string) {
	if h.display != nil {
		h.display.Show(top, bottom)
	}
}

// Weigh waits for a stable weight, until ctx ends.
func (h *Hub) Weigh(ctx context.Context) (scale.Reading, error) {
	if h.scale == nil {
		return scale.Reading{}, fmt.Errorf("weigh: %w", ErrNoDevice)
	}
	return h.scale.Weigh(ctx)
}

// ScaleReading returns the scale's newest reading, stable or not; ok is
// false without a scale or before its first reading.
func (h *Hub) ScaleReading() (scale.Reading, bool) {
	if h.scale == nil {
		return scale.Reading{}, false
	}
	return h.scale.Last()
}

// Status is what the till shows about its hardware.
type Status struct {
	Devices []DeviceState `json:"devices"`
	Queue   *QueueState   `json:"queue,omitempty"`
	Drawer  string        `json:"drawer,omitempty"` // the last kick
	// Banner is one line for the till's screen when a person is needed,
	// such as "Printer: paper out, 2 receipts waiting"; empty otherwise.
	Banner string `json:"banner,omitempty"`
}

// Status returns the devices' and the queue's state.
func (h *Hub) Status() Status {
	var s Status
	var q *QueueState
	if h.printer != nil {
		s.Devices = append(s.Devices, h.printer.State())
		qs := h.queue.State()
		q = &qs
		s.Queue = q
	}
	if h.scanner != nil {
		s.Devices = append(s.Devices, h.scanner.State())
	}
	if h.display != nil {
		s.Devices = append(s.Devices, h.display.State())
	}
	if h.scale != nil {
		s.Devices = append(s.Devices, h.scale.State())
	}
	h.drawerMu.Lock()
	s.Drawer = h.drawer
	h.drawerMu.Unlock()
	s.Banner = banner(s.Devices, q)
	return s
}

func banner(devs []DeviceState, q *QueueState) string {
	for _, d := range devs {
		if d.Health != HealthError {
			continue
		}
		msg := fmt.Sprintf("%s %s: %s", kindTitle(d.Kind), d.Name, d.Problem)
		if d.Kind == KindPrinter && q != nil && q.Pending > 0 {
			msg += fmt.Sprintf(", %d receipt(s) waiting", q.Pending)
		}
		return msg
	}
	if q != nil && q.Held {
		return fmt.Sprintf("Printer: %s, %d receipt(s) waiting", q.Reason, q.Pending)
	}
	return ""
}

func kindTitle(k Kind) string {
	switch k {
	case KindPrinter:
		return "Printer"
	case KindScanner:
		return "Scanner"
	case KindDisplay:
		return "Display"
	case KindScale:
		return "Scale"
	}
	return string(k)
}

// Subscribe returns a channel that receives a value (coalesced) whenever
// the status changes, and a function that ends the subscription.
func (h *Hub) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.subMu.Lock()
	h.subs[ch] = struct{}{}
	h.subMu.Unlock()
	return ch, func() {
		h.subMu.Lock()
		delete(h.subs, ch)
		h.subMu.Unlock()
	}
}

func (h *Hub) changed() {
	h.subMu.Lock()
	defer h.subMu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Printer returns the receipt printer's driver, or nil.
func (h *Hub) Printer() *ESCPOSPrinter { return h.printer }

// Queue returns the print queue, or nil without a printer.
func (h *Hub) Queue() *Queue { return h.queue }
