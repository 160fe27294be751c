package hw

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/hw/display"
)

// A Display is a customer display. The node is its consumer. Show never
// waits for the device: updates are best effort.
type Display interface {
	Show(top, bottom string)
}

// DisplayConfig configures a PoleDisplay. Name and Open are required.
type DisplayConfig struct {
	Name    string
	Open    Opener
	Display display.Config
	Backoff Backoff
	// WriteTimeout bounds one update; zero means 2 s.
	WriteTimeout time.Duration
	Now          func() time.Time
	Notify       func()
}

// PoleDisplay drives a two-line customer display. Show records what to
// show; Run writes it, and writes it again after a reconnect.
type PoleDisplay struct {
	cfg   DisplayConfig
	state *stateCell
	wake  chan struct{}

	mu          sync.Mutex
	top, bottom string
	gen         uint64
}

// NewDisplay returns a display driver; Run connects it.
func NewDisplay(cfg DisplayConfig) (*PoleDisplay, error) {
	if cfg.Name == "" || cfg.Open == nil {
		return nil, fmt.Errorf("display: name and opener required: %w", ErrConfig)
	}
	if err := cfg.Display.Validate(); err != nil {
		return nil, fmt.Errorf("display %s: %v: %w", cfg.Name, err, ErrConfig)
	}
	if cfg.Backoff == (Backoff{}) {
		cfg.Backoff = DefaultBackoff()
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 2 * time.Second
	}
	return &PoleDisplay{cfg: cfg, state: newStateCell(cfg.Name, KindDisplay, cfg.Now, cfg.Notify), wake: make(chan struct{}, 1)}, nil
}

// Show sets the two lines and returns at once.
func (d *PoleDisplay) Show(top, bottom string) {
	d.mu.Lock()
	d.top, d.bottom = top, bottom
	d.gen++
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// State returns the display's state.
func (d *PoleDisplay) State() DeviceState { return d.state.get() }

// Run keeps the display connected and up to date until ctx ends.
func (d *PoleDisplay) Run(ctx context.Context) error {
	supervise(ctx, d.state, d.cfg.Backoff, d.cfg.Open, d.serve)
	return nil
}

func (d *PoleDisplay) serve(ctx context.Context, l Link) error {
	write := func(b []byte) error {
		l.SetWriteDeadline(time.Now().Add(d.cfg.WriteTimeout))
		_, err := l.Write(b)
		return err
	}
	// A display sends nothing, but reading notices an unplug at once
	// rather than at the next update.
	gone := make(chan error, 1)
	go func() {
		buf := make([]byte, 64)
		for {
			l.SetReadDeadline(time.Time{})
			if _, err := l.Read(buf); err != nil {
				gone <- err
				return
			}
		}
	}()
	if err := write(display.Init(d.cfg.Display)); err != nil {
		return err
	}
	shown := ^uint64(0)
	for {
		d.mu.Lock()
		top, bottom, gen := d.top, d.bottom, d.gen
		d.mu.Unlock()
		if gen != shown {
			frame, bad := display.Frame(d.cfg.Display, top, bottom)
			if err := write(frame); err != nil {
				return err
			}
			shown = gen
			if len(bad) > 0 {
				d.state.update(func(s *DeviceState) { s.Detail = fmt.Sprintf("cannot show %q", string(bad)) })
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-gone:
			return err
		case <-d.wake:
		}
	}
}
