package hw

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tillmesh/tillmesh/hw/scan"
	"github.com/tillmesh/tillmesh/ledger/basket"
)

// A Scanner delivers barcode scans. The node is its consumer.
type Scanner interface {
	Scans() <-chan Scan
}

// A Scan is a code a scanner read, its check digit verified.
type Scan struct {
	Code   basket.Code `json:"code"`
	Device string      `json:"device"`
	Time   time.Time   `json:"time"`
}

// ScannerConfig configures a SerialScanner. Name and Open are required.
type ScannerConfig struct {
	Name string
	Open Opener
	// MaxLine is the longest line accepted; zero means scan.DefaultMaxLine.
	MaxLine int
	// Buffer is how many scans wait for a reader before new ones are
	// dropped; zero means 16.
	Buffer  int
	Backoff Backoff
	Now     func() time.Time
	Notify  func()
}

// SerialScanner reads a serial or USB-CDC scanner: lines ending in CR,
// LF or CRLF, however they are split between reads. Only EAN-13, UPC-A
// and EAN-8 codes with a correct check digit are delivered; others are
// counted and reported in the state. It reconnects after an unplug.
type SerialScanner struct {
	cfg      ScannerConfig
	state    *stateCell
	out      chan Scan
	rejected atomic.Int64
	dropped  atomic.Int64
}

// NewScanner returns a scanner driver; Run connects it.
func NewScanner(cfg ScannerConfig) (*SerialScanner, error) {
	if cfg.Name == "" || cfg.Open == nil {
		return nil, fmt.Errorf("scanner: name and opener required: %w", ErrConfig)
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 16
	}
	if cfg.Backoff == (Backoff{}) {
		cfg.Backoff = DefaultBackoff()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &SerialScanner{cfg: cfg, state: newStateCell(cfg.Name, KindScanner, cfg.Now, cfg.Notify), out: make(chan Scan, cfg.Buffer)}, nil
}

// Scans delivers the scans. The channel is never closed.
func (s *SerialScanner) Scans() <-chan Scan { return s.out }

// State returns the scanner's state.
func (s *SerialScanner) State() DeviceState { return s.state.get() }

// Run keeps the scanner connected and reads it until ctx ends.
func (s *SerialScanner) Run(ctx context.Context) error {
	supervise(ctx, s.state, s.cfg.Backoff, s.cfg.Open, s.serve)
	return nil
}

func (s *SerialScanner) serve(ctx context.Context, l Link) error {
	la := scan.LineAssembler{MaxLen: s.cfg.MaxLine}
	buf := make([]byte, 256)
	for {
		l.SetReadDeadline(time.Time{})
		n, err := l.Read(buf)
		if n > 0 {
			s.state.addRx(n)
			lines, lerr := la.Feed(buf[:n])
			if lerr != nil {
				s.reject(lerr.Error())
			}
			for _, line := range lines {
				s.line(line)
			}
		}
		if err != nil {
			return err
		}
	}
}

func (s *SerialScanner) line(line string) {
	code, err := basket.Parse(strings.TrimSpace(line))
	if err != nil {
		s.reject(fmt.Sprintf("rejected %.32q: %v", line, err))
		return
	}
	select {
	case s.out <- Scan{Code: code, Device: s.cfg.Name, Time: s.cfg.Now()}:
		s.state.update(func(st *DeviceState) { st.Detail = "last scan " + code.GTIN })
	default:
		n := s.dropped.Add(1)
		s.state.update(func(st *DeviceState) { st.Error = fmt.Sprintf("%d scan(s) dropped: nobody reading", n) })
	}
}

func (s *SerialScanner) reject(why string) {
	n := s.rejected.Add(1)
	s.state.update(func(st *DeviceState) { st.Detail = fmt.Sprintf("%s (%d rejected)", why, n) })
}

// Rejected returns how many lines were not valid codes.
func (s *SerialScanner) Rejected() int64 { return s.rejected.Load() }
