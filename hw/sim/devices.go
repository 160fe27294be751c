package sim

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/hw"
	"github.com/tillmesh/tillmesh/hw/display"
)

// A Device serves one connection's byte stream until it fails.
type Device interface {
	Serve(rw io.ReadWriter) error
}

// ErrNotConnected means no driver is connected to the device.
var ErrNotConnected = errors.New("sim: no driver connected")

// writers is the set of connections a device sends to.
type writers struct {
	mu    sync.Mutex
	conns map[io.Writer]struct{}
}

func (w *writers) add(c io.Writer) {
	w.mu.Lock()
	if w.conns == nil {
		w.conns = map[io.Writer]struct{}{}
	}
	w.conns[c] = struct{}{}
	w.mu.Unlock()
}

func (w *writers) remove(c io.Writer) {
	w.mu.Lock()
	delete(w.conns, c)
	w.mu.Unlock()
}

func (w *writers) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.conns)
}

// send writes b to every connection.
func (w *writers) send(b []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.conns) == 0 {
		return ErrNotConnected
	}
	var errs []error
	for c := range w.conns {
		if _, err := c.Write(b); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Scanner is a simulated serial barcode scanner.
type Scanner struct {
	w writers
}

// NewScanner returns a scanner.
func NewScanner() *Scanner { return &Scanner{} }

// Serve holds the connection until it fails; the scanner sends on it.
func (s *Scanner) Serve(rw io.ReadWriter) error {
	s.w.add(rw)
	defer s.w.remove(rw)
	buf := make([]byte, 64)
	for {
		if _, err := rw.Read(buf); err != nil {
			return err
		}
	}
}

// Connected returns how many drivers are connected.
func (s *Scanner) Connected() int { return s.w.count() }

// Scan sends code as a scanner does: the code, then CR LF.
func (s *Scanner) Scan(code string) error { return s.w.send([]byte(code + "\r\n")) }

// Send sends raw bytes: part of a code, or a terminator.
func (s *Scanner) Send(b []byte) error { return s.w.send(b) }

// Display is a simulated customer display.
type Display struct {
	mu     sync.Mutex
	screen *display.Screen
}

// NewDisplay returns a display that speaks cfg's protocol.
func NewDisplay(cfg display.Config) *Display { return &Display{screen: display.NewScreen(cfg)} }

// Serve decodes what the connection sends.
func (d *Display) Serve(rw io.ReadWriter) error {
	buf := make([]byte, 256)
	for {
		n, err := rw.Read(buf)
		if n > 0 {
			d.mu.Lock()
			d.screen.Write(buf[:n])
			d.mu.Unlock()
		}
		if err != nil {
			return err
		}
	}
}

// Lines returns what the display shows.
func (d *Display) Lines() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.screen.Lines()
}

// Errors returns how many commands the display could not decode.
func (d *Display) Errors() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.screen.Errors
}

// Scale is a simulated scale: CAS frames streamed every Interval, or
// Toledo 8217 replies to 'W'.
type Scale struct {
	Protocol hw.ScaleProtocol
	// Interval is how often a CAS scale sends a frame; zero means 50 ms.
	Interval time.Duration

	w        writers
	mu       sync.Mutex
	grams    int64
	stable   bool
	overload bool
	requests int
}

// NewScale returns a scale showing a stable zero.
func NewScale(p hw.ScaleProtocol) *Scale { return &Scale{Protocol: p, stable: true} }

// Set puts a weight on the scale.
func (s *Scale) Set(grams int64, stable bool) {
	s.mu.Lock()
	s.grams, s.stable, s.overload = grams, stable, false
	s.mu.Unlock()
}

// Overload makes the scale report over capacity.
func (s *Scale) Overload() {
	s.mu.Lock()
	s.overload = true
	s.mu.Unlock()
}

// Requests returns how many 'W' requests a Toledo scale answered.
func (s *Scale) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func (s *Scale) casFrame() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	state := "US"
	switch {
	case s.overload:
		state = "OL"
	case s.stable:
		state = "ST"
	}
	sign := byte('+')
	g := s.grams
	if g < 0 {
		sign, g = '-', -g
	}
	w := fmt.Sprintf("%c%03d.%03d", sign, g/1000, g%1000)
	if s.overload {
		w = "--------"
	}
	return []byte(state + ",GS,1\xc0," + w + " kg\r\n")
}

func (s *Scale) toledoReply() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	var status byte = 0x40
	switch {
	case s.overload:
		status |= 0x02
	case s.grams < 0:
		status |= 0x04
	case !s.stable:
		status |= 0x01
	}
	if status != 0x40 {
		return []byte{0x02, '?', status, 0x0d}
	}
	return []byte(fmt.Sprintf("\x02%02d.%03d\r", s.grams/1000, s.grams%1000))
}

// Serve streams frames (CAS) or answers requests (Toledo).
func (s *Scale) Serve(rw io.ReadWriter) error {
	if s.Protocol == hw.ScaleToledo {
		buf := make([]byte, 16)
		for {
			n, err := rw.Read(buf)
			for _, c := range buf[:n] {
				if c == 'W' {
					if _, err := rw.Write(s.toledoReply()); err != nil {
						return err
					}
				}
			}
			if err != nil {
				return err
			}
		}
	}
	interval := s.Interval
	if interval == 0 {
		interval = 50 * time.Millisecond
	}
	errc := make(chan error, 1)
	go func() {
		buf := make([]byte, 16)
		for {
			if _, err := rw.Read(buf); err != nil {
				errc <- err
				return
			}
		}
	}()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := rw.Write(s.casFrame()); err != nil {
			return err
		}
		select {
		case err := <-errc:
			return err
		case <-t.C:
		}
	}
}
