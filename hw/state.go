package hw

import (
	"context"
	"sync"
	"time"
)

// Kind is what a device is.
type Kind string

// Device kinds.
const (
	KindPrinter Kind = "printer"
	KindScanner Kind = "scanner"
	KindDisplay Kind = "display"
	KindScale   Kind = "scale"
)

// Health says whether a device needs a person.
type Health string

const (
	// HealthUnknown: not heard from yet.
	HealthUnknown Health = "unknown"
	// HealthOK: working.
	HealthOK Health = "ok"
	// HealthWarn: working, but will need attention (paper low).
	HealthWarn Health = "warn"
	// HealthError: not working; the till shows it until it is fixed.
	HealthError Health = "error"
)

// DeviceState is what the till's status shows about one device.
type DeviceState struct {
	Name      string `json:"name"`
	Kind      Kind   `json:"kind"`
	Connected bool   `json:"connected"`
	Health    Health `json:"health"`
	// Problem is a few words for the cashier: "paper out", "unplugged",
	// "no reply". Empty when healthy.
	Problem string `json:"problem,omitempty"`
	// Error is the last error, for the manager and the logs.
	Error string `json:"error,omitempty"`
	// Detail is the device's last report, such as a printer's status.
	Detail string `json:"detail,omitempty"`
	// Since is when Connected, Health or Problem last changed.
	Since      time.Time `json:"since"`
	Reconnects int       `json:"reconnects"`
	RxBytes    int64     `json:"rx_bytes"`
}

// stateCell holds a device's state and tells a listener when it changes.
type stateCell struct {
	mu        sync.Mutex
	s         DeviceState
	now       func() time.Time
	notify    func()
	connected bool // connected once: later connections are reconnects
}

func newStateCell(name string, kind Kind, now func() time.Time, notify func()) *stateCell {
	if now == nil {
		now = time.Now
	}
	if notify == nil {
		notify = func() {}
	}
	return &stateCell{s: DeviceState{Name: name, Kind: kind, Health: HealthUnknown, Since: now()}, now: now, notify: notify}
}

func (c *stateCell) get() DeviceState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s
}

// update applies f and notifies if what the till shows changed.
func (c *stateCell) update(f func(*DeviceState)) {
	c.mu.Lock()
	old := c.s
	f(&c.s)
	if c.s.Connected && !old.Connected {
		if c.connected {
			c.s.Reconnects++
		}
		c.connected = true
	}
	changed := old.Connected != c.s.Connected || old.Health != c.s.Health || old.Problem != c.s.Problem
	if changed {
		c.s.Since = c.now()
	}
	c.mu.Unlock()
	if changed || old.Error != c.s.Error || old.Detail != c.s.Detail {
		c.notify()
	}
}

func (c *stateCell) up(detail string) {
	c.update(func(s *DeviceState) {
		s.Connected, s.Health, s.Problem, s.Error = true, HealthOK, "", ""
		if detail != "" {
			s.Detail = detail
		}
	})
}

func (c *stateCell) down(problem string, err error) {
	c.update(func(s *DeviceState) {
		s.Connected, s.Health, s.Problem = false, HealthError, problem
		if err != nil {
			s.Error = err.Error()
		}
	})
}

func (c *stateCell) addRx(n int) {
	c.mu.Lock()
	c.s.RxBytes += int64(n)
	c.mu.Unlock()
}

// Backoff is how long a device waits before it tries to reconnect: Min,
// doubling up to Max.
type Backoff struct {
	Min, Max time.Duration
}

// DefaultBackoff waits 200 ms, then 400 ms, ... up to 5 s.
func DefaultBackoff() Backoff { return Backoff{Min: 200 * time.Millisecond, Max: 5 * time.Second} }

type backoff struct {
	Backoff
	next time.Duration
}

func (b *backoff) reset() { b.next = 0 }

// wait sleeps for the next delay or until ctx ends; it reports whether
// ctx is still alive.
func (b *backoff) wait(ctx context.Context, wake <-chan struct{}) bool {
	if b.next == 0 {
		b.next = max(b.Min, time.Millisecond)
	}
	d := b.next
	b.next = min(2*b.next, max(b.Max, b.Min))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}

// supervise keeps a streaming device connected: open, serve until the
// link fails, close, wait, again, until ctx ends. serve owns the link;
// it returns when the link fails or ctx ends.
func supervise(ctx context.Context, st *stateCell, b Backoff, open Opener, serve func(context.Context, Link) error) {
	bo := backoff{Backoff: b}
	for ctx.Err() == nil {
		l, err := open(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			st.down(unplugged(err), err)
			bo.wait(ctx, nil)
			continue
		}
		st.up("")
		bo.reset()
		stop := context.AfterFunc(ctx, func() { l.Close() })
		err = serve(ctx, l)
		stop()
		l.Close()
		if ctx.Err() != nil {
			return
		}
		st.down("disconnected", err)
		bo.wait(ctx, nil)
	}
}
