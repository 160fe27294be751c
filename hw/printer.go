package hw

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tillmesh/tillmesh/hw/escpos"
)

// A Printer prints ESC/POS jobs. The print queue is its consumer.
type Printer interface {
	// Status asks the printer how it is. An error means its state is
	// unknown: no reply, or no link.
	Status(ctx context.Context) (escpos.Status, error)
	// Print runs one job: a status check, the job, a status check.
	// Errors are *PrintError.
	Print(ctx context.Context, job Job) error
}

// A Drawer is a cash drawer. The node is its consumer.
type Drawer interface {
	// OpenDrawer kicks the drawer open now, ahead of any queued print
	// data.
	OpenDrawer(ctx context.Context) error
}

// A Job is one print job.
type Job struct {
	// Segments are ESC/POS commands split between whole commands; a
	// drawer kick may go out between two segments.
	Segments [][]byte
	// Sending, if set, is called once the status check has passed and
	// before the first byte goes out. If it fails, nothing is sent.
	Sending func() error
}

// Stage is how far a print job got.
type Stage uint8

const (
	StageOpen   Stage = iota // opening the link
	StageBefore              // the status check before the job
	StageSend                // sending the job
	StageAfter               // the status check after the job
)

func (s Stage) String() string {
	switch s {
	case StageOpen:
		return "open"
	case StageBefore:
		return "status before the job"
	case StageSend:
		return "send"
	case StageAfter:
		return "status after the job"
	}
	return fmt.Sprintf("Stage(%d)", uint8(s))
}

// PrintError says where a print job stopped and what the printer said.
type PrintError struct {
	Stage  Stage
	Status escpos.Status // what the printer last said; fields Unknown if nothing
	Err    error
}

func (e *PrintError) Error() string { return fmt.Sprintf("print: %v: %v", e.Stage, e.Err) }

func (e *PrintError) Unwrap() error { return e.Err }

// Sent reports whether bytes of the job may have reached the printer, so
// that printing it again could print it twice.
func (e *PrintError) Sent() bool { return e.Stage >= StageSend }

// Timeouts bound each exchange with a device.
type Timeouts struct {
	Open   time.Duration // opening or dialling the link
	Write  time.Duration // one chunk, on top of its time on the wire
	Status time.Duration // one status reply
}

// DefaultTimeouts are short: a printer on the LAN answers in
// milliseconds, and a job never waits long for a dead one.
func DefaultTimeouts() Timeouts {
	return Timeouts{Open: 2 * time.Second, Write: 3 * time.Second, Status: 500 * time.Millisecond}
}

// DrawerConfig is how a printer kicks its cash drawer.
type DrawerConfig struct {
	Pulse    escpos.Pulse
	Polarity escpos.DrawerPolarity // which level of pin 3 means open
	// Realtime sends DLE DC4, which the printer acts on at once even with
	// print data queued. Without it the kick is ESC p, sent only after a
	// status check says the printer is ready, so that it cannot fire
	// later out of a stuck buffer.
	Realtime bool
}

// PrinterConfig configures an ESCPOSPrinter. Name and Open are required.
type PrinterConfig struct {
	Name string
	Open Opener
	// PerJob opens a link for each job or status check and closes it
	// after: TCP port 9100 serves one client at a time. Otherwise the
	// link stays open and is reopened after a failure.
	PerJob bool
	// NoStatus is for printers that cannot answer DLE EOT (a one-way
	// link): jobs go out unchecked and the status stays unknown.
	NoStatus bool
	Drawer   DrawerConfig
	Timeouts Timeouts
	// BytesPerSecond is the link's speed, which lengthens write deadlines
	// on slow serial lines. Zero means a fast link.
	BytesPerSecond int
	// ChunkSize is the most bytes written at once; zero means 512.
	ChunkSize int
	Now       func() time.Time
	// Notify is called when the printer's state changes.
	Notify func()
}

// ESCPOSPrinter drives an ESC/POS receipt printer, and the cash drawer
// wired to it, over a Link. It implements Printer and Drawer.
//
// One job or status check runs at a time. A drawer kick does not wait
// for it: it goes out between two chunks of the job, on the job's link.
type ESCPOSPrinter struct {
	cfg   PrinterConfig
	state *stateCell

	session sync.Mutex // one job or status check at a time

	// kick is held by a drawer kick from before it waits for the link
	// until it is done; a job takes it for reading before each chunk, so
	// a kick goes out right after the chunk being sent.
	kick    sync.RWMutex
	kicking atomic.Int32

	io   sync.Mutex // guards link and every exchange on it
	link Link
	busy bool // a session holds link: a kick must leave it open
}

// NewPrinter returns a printer driver; it opens nothing yet.
func NewPrinter(cfg PrinterConfig) (*ESCPOSPrinter, error) {
	if cfg.Name == "" || cfg.Open == nil {
		return nil, fmt.Errorf("printer: name and opener required: %w", ErrConfig)
	}
	if cfg.Timeouts == (Timeouts{}) {
		cfg.Timeouts = DefaultTimeouts()
	}
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = 512
	}
	if cfg.Drawer.Pulse == (escpos.Pulse{}) {
		cfg.Drawer.Pulse = escpos.DefaultPulse()
	}
	if _, err := drawerBytes(cfg.Drawer); err != nil {
		return nil, fmt.Errorf("printer %s: drawer: %v: %w", cfg.Name, err, ErrConfig)
	}
	return &ESCPOSPrinter{cfg: cfg, state: newStateCell(cfg.Name, KindPrinter, cfg.Now, cfg.Notify)}, nil
}

// State returns the printer's state for the till's status.
func (p *ESCPOSPrinter) State() DeviceState { return p.state.get() }

// Close closes the link if one is open.
func (p *ESCPOSPrinter) Close() error {
	p.io.Lock()
	defer p.io.Unlock()
	p.dropLocked()
	return nil
}

func (p *ESCPOSPrinter) dropLocked() {
	if p.link != nil {
		p.link.Close()
		p.link = nil
	}
}

// openLocked returns the open link, opening one if needed.
func (p *ESCPOSPrinter) openLocked(ctx context.Context) (Link, error) {
	if p.link != nil {
		return p.link, nil
	}
	octx, cancel := context.WithTimeout(ctx, p.cfg.Timeouts.Open)
	defer cancel()
	l, err := p.cfg.Open(octx)
	if err != nil {
		return nil, err
	}
	p.link = l
	return l, nil
}

// begin starts a session: it holds the session lock and an open link
// until end.
func (p *ESCPOSPrinter) begin(ctx context.Context) (Link, error) {
	p.session.Lock()
	p.io.Lock()
	defer p.io.Unlock()
	l, err := p.openLocked(ctx)
	if err != nil {
		p.session.Unlock()
		p.state.down(unplugged(err), err)
		return nil, err
	}
	p.busy = true
	return l, nil
}

func (p *ESCPOSPrinter) end() {
	p.io.Lock()
	p.busy = false
	if p.cfg.PerJob {
		p.dropLocked()
	}
	p.io.Unlock()
	p.session.Unlock()
}

// exchange runs f on l under the I/O lock. An error other than a missing
// status reply closes the link: it is reopened next time.
func (p *ESCPOSPrinter) exchange(l Link, f func(Link) error) error {
	p.io.Lock()
	defer p.io.Unlock()
	if p.link != l {
		return fmt.Errorf("printer %s: link closed: %w", p.cfg.Name, ErrClosed)
	}
	err := f(l)
	if err != nil && !errors.Is(err, escpos.ErrNoReply) && !errors.Is(err, escpos.ErrBadReply) {
		p.dropLocked()
	}
	return err
}

// Status asks the printer for its status (DLE EOT 1, 2 and 4, and 3 if
// it reports an error).
func (p *ESCPOSPrinter) Status(ctx context.Context) (escpos.Status, error) {
	if p.cfg.NoStatus {
		return escpos.Status{}, fmt.Errorf("printer %s does not report its status: %w", p.cfg.Name, ErrNoReply)
	}
	l, err := p.begin(ctx)
	if err != nil {
		return escpos.Status{}, err
	}
	defer p.end()
	st, err := p.status(ctx, l)
	p.report(st, err)
	return st, err
}

func (p *ESCPOSPrinter) status(ctx context.Context, l Link) (escpos.Status, error) {
	var st escpos.Status
	for _, q := range []escpos.StatusQuery{escpos.PrinterStatus, escpos.OfflineCause, escpos.PaperStatus, escpos.ErrorCause} {
		if q == escpos.ErrorCause && st.Error != escpos.Yes {
			continue
		}
		if err := ctx.Err(); err != nil {
			return st, err
		}
		var s escpos.Status
		err := p.exchange(l, func(l Link) error {
			var err error
			s, err = p.query(l, q)
			return err
		})
		if err != nil {
			return st, err
		}
		st = st.Merge(s)
	}
	return st, nil
}

// query sends DLE EOT q and decodes the one-byte reply. Stale bytes
// (a late reply to an earlier query) are read away first.
func (p *ESCPOSPrinter) query(l Link, q escpos.StatusQuery) (escpos.Status, error) {
	if err := discard(l); err != nil {
		return escpos.Status{}, err
	}
	if err := p.write(l, []byte{0x10, 0x04, byte(q)}); err != nil {
		return escpos.Status{}, err
	}
	l.SetReadDeadline(time.Now().Add(p.cfg.Timeouts.Status))
	var b [1]byte
	n, err := l.Read(b[:])
	if err != nil && !isTimeout(err) {
		return escpos.Status{}, fmt.Errorf("status %v: %w", q, err)
	}
	return escpos.DecodeStatus(q, b[:n], p.cfg.Drawer.Polarity)
}

// discard reads away whatever the device sent that nobody asked for.
func discard(l Link) error {
	var buf [64]byte
	for range 16 {
		l.SetReadDeadline(time.Now().Add(time.Millisecond))
		_, err := l.Read(buf[:])
		if isTimeout(err) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *ESCPOSPrinter) write(l Link, b []byte) error {
	d := p.cfg.Timeouts.Write
	if p.cfg.BytesPerSecond > 0 {
		d += time.Duration(len(b)) * time.Second / time.Duration(p.cfg.BytesPerSecond)
	}
	l.SetWriteDeadline(time.Now().Add(d))
	_, err := l.Write(b)
	return err
}

// report records what a status check found.
func (p *ESCPOSPrinter) report(st escpos.Status, err error) {
	switch {
	case errors.Is(err, escpos.ErrNoReply):
		p.state.update(func(s *DeviceState) {
			s.Connected, s.Health, s.Problem, s.Error, s.Detail = true, HealthError, "no reply", err.Error(), st.String()
		})
	case err != nil:
		p.state.down(unplugged(err), err)
	default:
		prob, health := printerProblem(st)
		p.state.update(func(s *DeviceState) {
			s.Connected, s.Health, s.Problem, s.Error, s.Detail = true, health, prob, "", st.String()
		})
	}
}

// printerProblem says in a few words why a status is not ready, or warns
// of low paper.
func printerProblem(st escpos.Status) (string, Health) {
	switch {
	case st.PaperOut == escpos.Yes || st.PaperEndStop == escpos.Yes:
		return "paper out", HealthError
	case st.CoverOpen == escpos.Yes:
		return "cover open", HealthError
	case st.CutterError == escpos.Yes:
		return "cutter jammed", HealthError
	case st.Error == escpos.Yes || st.UnrecoverableError == escpos.Yes:
		return "printer error", HealthError
	case st.Offline == escpos.Yes:
		return "offline", HealthError
	case !st.Ready():
		return "status unknown", HealthError
	case st.PaperNearEnd == escpos.Yes:
		return "paper low", HealthWarn
	}
	return "", HealthOK
}

// Print checks the printer, sends the job in chunks, and checks again.
// The job is not sent unless the printer said it is ready. A kick of the
// drawer may go out between two chunks.
func (p *ESCPOSPrinter) Print(ctx context.Context, job Job) error {
	l, err := p.begin(ctx)
	if err != nil {
		return &PrintError{Stage: StageOpen, Err: err}
	}
	defer p.end()
	var st escpos.Status
	if !p.cfg.NoStatus {
		st, err = p.status(ctx, l)
		p.report(st, err)
		if err != nil {
			return &PrintError{Stage: StageBefore, Status: st, Err: err}
		}
		if !st.Ready() {
			prob, _ := printerProblem(st)
			return &PrintError{Stage: StageBefore, Status: st, Err: fmt.Errorf("%s: %w", prob, ErrNotReady)}
		}
	}
	if job.Sending != nil {
		if err := job.Sending(); err != nil {
			return &PrintError{Stage: StageBefore, Status: st, Err: err}
		}
	}
	for _, chunk := range chunks(job.Segments, p.cfg.ChunkSize) {
		if err := ctx.Err(); err != nil {
			return &PrintError{Stage: StageSend, Status: st, Err: err}
		}
		p.kick.RLock() // a drawer kick waiting goes first
		p.kick.RUnlock()
		if err := p.exchange(l, func(l Link) error { return p.write(l, chunk) }); err != nil {
			p.state.down(unplugged(err), err)
			return &PrintError{Stage: StageSend, Status: st, Err: err}
		}
	}
	if p.cfg.NoStatus {
		p.state.update(func(s *DeviceState) { s.Connected, s.Health, s.Problem, s.Error = true, HealthOK, "", "" })
		return nil
	}
	st, err = p.status(ctx, l)
	p.report(st, err)
	if err != nil {
		return &PrintError{Stage: StageAfter, Status: st, Err: err}
	}
	if !st.Ready() {
		prob, _ := printerProblem(st)
		return &PrintError{Stage: StageAfter, Status: st, Err: fmt.Errorf("%s: %w", prob, ErrNotReady)}
	}
	return nil
}

// chunks joins segments into writes of at most size bytes without
// splitting one; a segment larger than size goes alone.
func chunks(segments [][]byte, size int) [][]byte {
	var out [][]byte
	var cur []byte
	for _, s := range segments {
		if len(cur) > 0 && len(cur)+len(s) > size {
			out = append(out, cur)
			cur = nil
		}
		cur = append(cur, s...)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func drawerBytes(d DrawerConfig) ([]byte, error) {
	b, err := escpos.NewBuilder(escpos.Config{})
	if err != nil {
		return nil, err
	}
	if d.Realtime {
		err = b.RealtimePulse(d.Pulse.Pin, d.Pulse.On)
	} else {
		err = b.Pulse(d.Pulse)
	}
	return b.Bytes(), err
}

// OpenDrawer kicks the drawer now. With a real-time kick (DLE DC4) it
// goes out at once, on the link of a job in progress if there is one;
// with ESC p it goes out only if a status check says the printer is
// ready, since a stuck printer would fire it later.
func (p *ESCPOSPrinter) OpenDrawer(ctx context.Context) error {
	kick, _ := drawerBytes(p.cfg.Drawer) // checked by NewPrinter
	p.kicking.Add(1)
	defer p.kicking.Add(-1)
	p.kick.Lock()
	defer p.kick.Unlock()
	p.io.Lock()
	defer p.io.Unlock()
	l, err := p.openLocked(ctx)
	if err != nil {
		return fmt.Errorf("open drawer: %w", err)
	}
	temp := p.cfg.PerJob && !p.busy
	defer func() {
		if temp {
			p.dropLocked()
		}
	}()
	fail := func(err error) error {
		if !errors.Is(err, ErrNotReady) && !errors.Is(err, escpos.ErrNoReply) && !errors.Is(err, escpos.ErrBadReply) {
			p.dropLocked()
		}
		return fmt.Errorf("open drawer: %w", err)
	}
	if !p.cfg.Drawer.Realtime && !p.cfg.NoStatus {
		var st escpos.Status
		for _, q := range []escpos.StatusQuery{escpos.PrinterStatus, escpos.OfflineCause, escpos.PaperStatus} {
			s, err := p.query(l, q)
			if err != nil {
				return fail(err)
			}
			st = st.Merge(s)
		}
		if !st.Ready() {
			prob, _ := printerProblem(st)
			return fail(fmt.Errorf("%s: %w", prob, ErrNotReady))
		}
	}
	if err := p.write(l, kick); err != nil {
		return fail(err)
	}
	return nil
}

// DrawerOpen asks the printer whether the drawer is open (pin 3, read
// with the configured polarity).
func (p *ESCPOSPrinter) DrawerOpen(ctx context.Context) (escpos.Flag, error) {
	st, err := p.Status(ctx)
	return st.DrawerOpen, err
}

// unplugged names why a device could not be reached, for the cashier.
func unplugged(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, fs.ErrNotExist):
		return "unplugged"
	case errors.Is(err, ErrAmbiguous):
		return "several devices match"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case isTimeout(err):
		return "no reply"
	case errors.As(err, &ne):
		return "unreachable"
	}
	return "disconnected"
}
